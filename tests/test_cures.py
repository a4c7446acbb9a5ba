"""KL warm-up and free bits: their objectives equal the formulas on hand-made numbers, and the
"elbo" they report stays the true ELBO. Also the likelihood part of `models.LikelihoodCVAE`."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_helpers import likelihoods, losses, models

RECONSTRUCTION = np.array([-100.0, -90.0])
KL_PER_DIMENSION = np.array([[0.1, 2.0, 0.0], [0.3, 1.0, 0.0]])


def _terms():
    """Hand-made terms of two images and three latent dimensions."""
    kl = KL_PER_DIMENSION.sum(axis=1)
    return {
        "reconstruction": tf.constant(RECONSTRUCTION, tf.float32),
        "kl": tf.constant(kl, tf.float32),
        "elbo": tf.constant(RECONSTRUCTION - kl, tf.float32),
        "kl_per_dimension": tf.constant(KL_PER_DIMENSION, tf.float32),
    }


def test_free_bits_charges_each_dimensions_batch_average_kl_at_least_the_floor():
    model = models.FreeBitsCVAE(3, free_bits=0.5)
    # Batch averages per dimension: 0.2, 1.5, 0.0 -> charged max(., 0.5): 0.5 + 1.5 + 0.5 = 2.5.
    np.testing.assert_allclose(model.objective(_terms()), [102.5, 92.5], rtol=1e-6)


def test_free_bits_below_every_dimensions_kl_is_minus_the_analytic_elbo():
    model = models.FreeBitsCVAE(3, free_bits=0.01)
    terms = _terms()
    terms["kl_per_dimension"] = tf.constant(KL_PER_DIMENSION + 1.0, tf.float32)
    # Every dimension is above the floor: the charge is the batch's mean KL, 1.7 + 3 nats.
    np.testing.assert_allclose(model.objective(terms), -RECONSTRUCTION + 4.7, rtol=1e-6)


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "0.5"])
def test_free_bits_refuses_a_floor_that_is_not_a_positive_number(bad):
    with pytest.raises(ValueError, match="free_bits must be a positive finite number"):
        models.FreeBitsCVAE(3, free_bits=bad)


@pytest.mark.parametrize("bad", [1e39, 2e6])
def test_free_bits_refuses_a_floor_float32_cannot_carry(bad):
    # 1e39 is float32's infinity: the loss would be inf and the run stopped as if the data were bad.
    with pytest.raises(ValueError, match=r"free_bits must be a positive finite number of at most 1e\+06"):
        models.FreeBitsCVAE(3, free_bits=bad)


@pytest.mark.parametrize("make", [
    lambda beta: models.WarmupCVAE(3, warmup_steps=10, beta=beta),
    lambda beta: models.FreeBitsCVAE(3, free_bits=0.5, beta=beta),
], ids=["warmup", "free_bits"])
def test_the_cures_refuse_a_beta_they_would_ignore(make):
    # Each sets the KL weight itself; v0.1 stored beta = 4 and trained exactly as with beta = 1.
    with pytest.raises(ValueError, match=r"has no use for beta; got beta=4\.0.*models\.CVAE"):
        make(4.0)
    assert make(1.0).beta == 1.0  # what a saved model's config holds


def _compiled(model):
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.optimizer.build(model.trainable_weights)
    return model


@pytest.mark.parametrize("steps, beta", [(0, 0.0), (3, 0.3), (10, 1.0), (25, 1.0)])
def test_warmup_weight_rises_linearly_from_zero_to_one_then_stays(steps, beta):
    model = _compiled(models.WarmupCVAE(3, warmup_steps=10))
    model.optimizer.iterations.assign(steps)
    assert float(model.kl_weight()) == pytest.approx(beta)
    # -(reconstruction - beta * kl) on the hand-made numbers: KLs 2.1 and 1.3.
    np.testing.assert_allclose(
        model.objective(_terms()), [100.0 + beta * 2.1, 90.0 + beta * 1.3], rtol=1e-6)


def test_an_uncompiled_warmup_model_scores_with_beta_one():
    assert float(models.WarmupCVAE(3, warmup_steps=10).kl_weight()) == 1.0


def test_warmup_refuses_a_length_that_is_not_a_positive_integer():
    with pytest.raises(ValueError, match="warmup_steps must be a positive integer"):
        models.WarmupCVAE(3, warmup_steps=0)


def _twins(cured):
    """The baseline the cures are compared with (the CVAE with the closed-form KL) and `cured`,
    with the same weights and the same noise stream."""
    plain = models.AnalyticKLCVAE(cured.latent_dim, seed=7)
    cured.set_weights(plain.get_weights())
    return plain, cured


def _batch():
    rng = np.random.default_rng(0)
    return (rng.uniform(size=(8, 28, 28, 1)) < 0.3).astype(np.float32)


@pytest.mark.parametrize("make", [
    lambda: models.WarmupCVAE(4, warmup_steps=100, seed=7),
    lambda: models.FreeBitsCVAE(4, free_bits=1.0, seed=7),
], ids=["warmup", "free_bits"])
def test_a_training_step_reports_the_true_elbo_not_the_objective(make):
    plain, cured = _twins(make())
    x = _batch()
    logs = {}
    for name, model in (("plain", plain), ("cured", cured)):
        _compiled(model)
        logs[name] = {k: float(v) for k, v in model.train_on_batch(x, return_dict=True).items()}
    # Same weights, same noise: the same ELBO and terms, whatever the objective.
    for key in ("elbo", "reconstruction_loss", "kl_loss"):
        assert logs["cured"][key] == pytest.approx(logs["plain"][key], rel=1e-5), key
    assert logs["plain"]["loss"] == pytest.approx(-logs["plain"]["elbo"], rel=1e-5)
    if isinstance(cured, models.WarmupCVAE):
        # Step 0 of the warm-up: beta = 0, the loss is the reconstruction loss alone.
        assert logs["cured"]["loss"] == pytest.approx(logs["cured"]["reconstruction_loss"], rel=1e-5)
    else:
        # An untrained encoder's KL per dimension is far below 1 nat: each is charged the floor.
        assert logs["cured"]["loss"] == pytest.approx(logs["cured"]["reconstruction_loss"] + 4 * 1.0, rel=1e-5)


def test_the_baseline_takes_the_kl_in_closed_form_and_reports_the_elbo_with_it():
    model = models.AnalyticKLCVAE(4, seed=3)
    x = _batch()
    terms = model.terms(x)
    mean, logvar = (np.asarray(t, np.float64) for t in model.encode(x))
    # KL(N(m, e^v) || N(0, 1)) summed over dimensions, written out in numpy.
    expected = 0.5 * np.sum(np.exp(logvar) + mean**2 - 1.0 - logvar, axis=1)
    np.testing.assert_allclose(terms["kl"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(terms["elbo"], terms["reconstruction"] - terms["kl"], rtol=1e-6)
    # The book's CVAE estimates the same KL from its one draw of z: another number.
    plain = models.CVAE(4, seed=3)
    plain.set_weights(model.get_weights())
    assert not np.allclose(plain.terms(x)["kl"], expected, rtol=1e-3)


def test_a_training_step_at_the_largest_floor_has_a_finite_loss():
    model = _compiled(models.FreeBitsCVAE(4, free_bits=1e6, seed=7))
    logs = model.train_on_batch(_batch(), return_dict=True)
    # Every dimension is charged the floor: 4e6 nats on top of the reconstruction loss.
    assert float(logs["loss"]) == pytest.approx(float(logs["reconstruction_loss"]) + 4e6, rel=1e-6)


def test_the_terms_hook_gives_losses_elbo_terms_with_each_dimensions_kl():
    model = models.CVAE(4, seed=3)
    twin = models.CVAE(4, seed=3)
    twin.set_weights(model.get_weights())
    x = _batch()
    mine, reference = model.terms(x), losses.elbo_terms(twin, x)
    for key in ("reconstruction", "kl", "elbo"):
        np.testing.assert_allclose(mine[key], reference[key], rtol=1e-6)
    mean, logvar = model.encode(x)
    expected = 0.5 * (np.exp(logvar) + np.asarray(mean) ** 2 - 1.0 - logvar)
    np.testing.assert_allclose(mine["kl_per_dimension"], expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("make, setting", [
    (lambda: models.WarmupCVAE(3, warmup_steps=40, seed=1), "warmup_steps"),
    (lambda: models.FreeBitsCVAE(3, free_bits=0.25, seed=1), "free_bits"),
    (lambda: models.LikelihoodCVAE(3, "gaussian", seed=1), "likelihood"),
])
def test_saved_variants_load_with_their_settings_and_weights(tmp_path, make, setting):
    model = make()
    if setting == "likelihood":
        model.log_scale.assign(-1.5)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and getattr(loaded, setting) == getattr(model, setting)
    for saved, restored in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(saved, restored)


def test_likelihood_cvae_scores_grey_images_with_its_likelihood():
    model = models.LikelihoodCVAE(3, "continuous_bernoulli", seed=2)
    x = np.random.default_rng(4).uniform(size=(5, 28, 28, 1)).astype(np.float32)
    terms = model.terms(x)
    # The decoder's logits at the same z: redo the draw from the same noise state.
    replay = models.LikelihoodCVAE(3, "continuous_bernoulli", seed=2)
    replay.set_weights(model.get_weights())
    mean, logvar = replay.encode(x)
    logits = replay.decode(replay.reparameterize(mean, logvar))
    np.testing.assert_allclose(terms["reconstruction"], likelihoods.continuous_bernoulli(x, logits), rtol=1e-5)
    # Its pictures show the continuous Bernoulli's mean, not sigmoid(logits).
    np.testing.assert_allclose(replay.decode(mean, apply_sigmoid=True),
                               likelihoods.continuous_bernoulli_mean(replay.decode(mean)), rtol=1e-6)


def test_likelihood_cvae_refuses_an_unknown_likelihood():
    with pytest.raises(ValueError, match="likelihood must be one of"):
        models.LikelihoodCVAE(3, "poisson")
