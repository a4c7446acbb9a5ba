"""The model contract of `vae_helpers.models`: a model with another prior, posterior or likelihood
overrides that part alone, and is trained and scored by its own densities.

Oracles: numpy/scipy recomputations of IWAE for a prior N(0, 4I); the densities integrated on a
grid; a checkpoint that vae_helpers saved before the models package existed (tests/data)."""

import inspect
import json
import math
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from vae_helpers import aggregate, config, data, evaluation, latent, losses, models, runs, training

DATA = pathlib.Path(__file__).resolve().parent / "data" / "checkpoint_30eeb95"


# A new model against the contract, as the models package's docstring writes one: a prior N(0, 4I).
class WidePriorCVAE(models.CVAE):
    """The book's CVAE with the prior N(0, 4I): one part of the contract changed."""

    def prior_log_prob(self, z):
        return losses.log_normal_pdf(z, 0.0, math.log(4.0), raxis=-1)


keras.saving.register_keras_serializable(package="vae_helpers_tests")(WidePriorCVAE)


class LabelledCVAE(models.CVAE):
    """A model that asks for labels: its terms see each image's digit (here, only counted)."""

    uses_labels = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.labels_seen = keras.Variable(0.0, trainable=False)

    def terms(self, x, labels):
        self.labels_seen.assign_add(tf.cast(tf.reduce_sum(labels + 1), tf.float32))
        return super().terms(x)


keras.saving.register_keras_serializable(package="vae_helpers_tests")(LabelledCVAE)


@pytest.fixture(scope="module")
def images(bundled):
    return data.binarize_once(bundled.test_images[:6], "static")


def _numpy_iwae(model, x, k, seed, prior_std):
    """IWAE_k recomputed with numpy/scipy from the model's encoder and decoder alone, drawing the
    same noise as evaluation.iwae (one batch, one chunk)."""
    mean, logvar = (np.asarray(t, np.float64) for t in model.encode(x))
    eps = np.asarray(keras.random.normal((k, *mean.shape), seed=keras.random.SeedGenerator(seed)), np.float64)
    z = mean + np.exp(0.5 * logvar) * eps  # (k, batch, d)
    logits = np.asarray(model.decode(z.reshape(-1, mean.shape[1]).astype(np.float32)), np.float64)
    logits = logits.reshape(k, len(x), -1)
    flat = np.asarray(x, np.float64).reshape(len(x), -1)
    log_px_z = np.sum(flat * special.log_expit(logits) + (1 - flat) * special.log_expit(-logits), axis=-1)
    log_pz = stats.norm.logpdf(z, 0.0, prior_std).sum(-1)
    log_qz = stats.norm.logpdf(z, mean, np.exp(0.5 * logvar)).sum(-1)
    return special.logsumexp(log_px_z + log_pz - log_qz, axis=0) - math.log(k)


def test_iwae_of_a_model_with_the_prior_n_0_4i_matches_numpy(images):
    config.set_seeds(3)
    wide = WidePriorCVAE(2, seed=3)
    got = evaluation.iwae(wide, images, k=50, batch_size=len(images), seed=11)
    np.testing.assert_allclose(got, _numpy_iwae(wide, images, 50, 11, prior_std=2.0), rtol=1e-4, atol=1e-3)
    # The same weights under the standard prior score otherwise: the prior was not ignored.
    plain = models.CVAE(2, seed=3)
    plain.set_weights(wide.get_weights())
    standard = evaluation.iwae(plain, images, k=50, batch_size=len(images), seed=11)
    np.testing.assert_allclose(standard, _numpy_iwae(plain, images, 50, 11, prior_std=1.0), rtol=1e-4, atol=1e-3)
    assert np.all(np.abs(got - standard) > 1e-3)


def test_every_estimator_scores_through_the_models_prior(images):
    config.set_seeds(4)
    wide = WidePriorCVAE(2, seed=4)
    z = np.random.default_rng(0).normal(size=(3, len(images), 2)).astype(np.float32)
    expected = stats.norm.logpdf(z, 0.0, 2.0).sum(-1)
    joint = np.asarray(evaluation.log_joint_of(wide, images)(z)) - np.asarray(wide.log_likelihood(images, z))
    np.testing.assert_allclose(joint, expected, rtol=1e-5)
    # The ELBO by quadrature (no sampling) against its Monte Carlo estimate.
    quadrature = evaluation.encoder_elbo(wide, images)
    sampled, error = evaluation.monte_carlo_elbo(wide, images, 2000)
    assert np.all(np.abs(quadrature - sampled) < 5 * error + 1e-3)
    # The rate's closed form is against N(0, I): refused, with the estimate to use instead.
    with pytest.raises(ValueError, match="WidePriorCVAE has a prior of its own.*Monte Carlo"):
        evaluation.rate_distortion(wide, images)
    with pytest.raises(ValueError, match="kl='analytic'"):
        losses.elbo_terms(wide, images, kl="analytic")
    # The aggregate posterior's KL against this prior, on a grid.
    means, logvars = (np.asarray(t, np.float64) for t in wide.encode(images))
    kl_wide, mass = aggregate.grid_kl(means, logvars, -8, 8, 400, prior=wide.prior_log_prob)
    kl_standard, _ = aggregate.grid_kl(means, logvars, -8, 8, 400)
    z_grid, cell = aggregate.grid(-8, 8, 400)
    q = np.exp(aggregate.log_density(z_grid, means, logvars))
    by_hand = np.sum(q * (np.log(q) - stats.norm.logpdf(z_grid, 0.0, 2.0).sum(-1))) * cell
    assert mass > 0.999 and abs(kl_wide - by_hand) < 1e-6 and abs(kl_wide - kl_standard) > 1e-3


def test_the_default_parts_are_densities_that_integrate_to_one():
    config.set_seeds(5)
    model = models.CVAE(2, seed=5)
    z, cell = aggregate.grid(-10, 10, 500)
    assert abs(np.exp(np.asarray(model.prior_log_prob(z), np.float64)).sum() * cell - 1) < 1e-4
    x = data.binarize_once(np.random.default_rng(1).uniform(size=(1, 28, 28, 1)), "static")
    mean, logvar = (np.asarray(t, np.float64) for t in model.encode(x))
    half = 10 * np.exp(0.5 * logvar[0])
    box, widths = latent.midpoint_grid(mean[0] - half, mean[0] + half, 400)
    log_q = np.asarray(model.posterior_log_prob(box[:, None, :].astype(np.float32), x), np.float64)[:, 0]
    assert abs(np.exp(log_q).sum() * np.prod(widths) - 1) < 1e-3
    # posterior_sample's log q is posterior_log_prob at the same draws.
    draws, log_q_drawn = model.posterior_sample(x, num_samples=4, seed=2)
    np.testing.assert_allclose(log_q_drawn, model.posterior_log_prob(draws, x), rtol=1e-6)


def test_a_new_model_trains_through_train_model_and_is_named_by_its_settings(small, tmp_path):
    config.set_seeds(6)
    wide = WidePriorCVAE(2, seed=6)
    before = [w.copy() for w in wide.get_weights()]
    run = runs.train_model(small, wide, epochs=1, verbose=0)
    assert run.epochs == 1 and np.isfinite(run.history["val_elbo"][0])
    assert any(not np.array_equal(a, b) for a, b in zip(before, run.model.get_weights()))
    name = runs.checkpoint_name(small, WidePriorCVAE(2, seed=6), epochs=1)
    assert name.startswith("wideprior") and "latent_dim2-seed6-beta1" in name and (tmp_path / name).exists()
    # The test ELBO it logged is its own prior's: recomputed from the trained weights.
    test = runs.test_images(small)
    terms = [losses.elbo_terms(run.model, test)["elbo"].numpy() for _ in range(200)]
    assert abs(np.mean(terms) - run.history["val_elbo"][0]) < 6 * np.std(np.mean(terms, axis=1)) + 1.0


def test_labels_reach_a_model_that_asks_for_them(small):
    model = LabelledCVAE(2, seed=7)
    runs.train_model(small, model, epochs=1, verbose=0)
    # 64 training images and 32 test images, each counted as label + 1.
    expected = (small.train_labels + 1).sum() + (small.test_labels + 1).sum()
    assert float(model.labels_seen.numpy()) == float(expected)
    # Images alone are refused with the fix.
    with pytest.raises(ValueError, match="make_dataset\\(images, labels=labels\\)"):
        model.inputs_of(tf.zeros((2, 28, 28, 1)))


@pytest.mark.parametrize("labels, match", [
    (np.arange(4).reshape(2, 2), "shape \\(N,\\)"),
    (np.array([0, 1, 2]), "one entry per image"),
    (np.array([0.5, 1, 2, 3]), "whole numbers"),
    (np.array([0, 1, 2, 10]), "digits 0-9"),
])
def test_bad_labels_get_an_error_that_names_the_fix(labels, match):
    with pytest.raises(ValueError, match=match):
        data.make_dataset(np.zeros((4, 28, 28, 1), np.float32), labels=labels)


def test_a_checkpoint_saved_before_the_models_package_loads(tmp_path):
    """tests/data/checkpoint_30eeb95/cvae.keras: a CVAE(1, seed=3) that training.train saved at
    commit 30eeb95 (one epoch on 32 random 0/1 images, data_fingerprint "fixture"), and the
    logits it decoded for z = -1, 0, 1 then."""
    path = tmp_path / "cvae.keras"
    path.write_bytes((DATA / "cvae.keras").read_bytes())
    state = training.checkpoint_state(path)
    assert state["model"] == "vae_helpers>CVAE" and state["epochs_done"] == 1
    model, history, done = training.checkpoints.resume(str(path), models.CVAE(1, seed=3), 1, "fixture")
    assert type(model) is models.CVAE and done == 1 and "elbo" in history
    z = np.linspace(-1, 1, 3, dtype="float32")[:, None]
    np.testing.assert_allclose(model.decode(z), np.load(DATA / "cvae_decoded.npy"), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name, cls, setting", [
    ("freebits", models.FreeBitsCVAE, ("free_bits", 0.5)),
    ("warmup", models.WarmupCVAE, ("warmup_steps", 10)),
    ("gaussian", models.LikelihoodCVAE, ("likelihood", "gaussian")),
])
def test_the_variants_configs_saved_before_the_move_rebuild_their_classes(name, cls, setting):
    """The Keras configs of checkpoints saved at 30eeb95, when these classes lived in
    vae_helpers.cures and vae_helpers.variants: their registered names still resolve."""
    saved = json.loads((DATA / f"{name}_config.json").read_text())
    assert saved["module"] in ("vae_helpers.cures", "vae_helpers.variants")
    model = keras.saving.deserialize_keras_object(saved)
    assert type(model) is cls and getattr(model, setting[0]) == setting[1]


def _documented_model():
    """The mixture-prior model the models package's docstring names, and its length in lines."""
    source = inspect.getsource(models.priors.MixturePriorCVAE)
    return models.priors.MixturePriorCVAE, len([line for line in source.splitlines() if line.strip()])


def test_the_documented_mixture_prior_is_a_density_and_trains(small):
    cls, lines = _documented_model()
    assert lines <= 25
    config.set_seeds(8)
    model = cls(2, components=3, seed=8)
    # Against a numpy mixture, with weights made unequal first.
    model.prior_logits.assign([0.5, -1.0, 0.2])
    model.prior_logvars.assign(np.log([[0.5, 2.0], [1.0, 1.0], [3.0, 0.2]]))
    means, logvars = model.prior_means.numpy(), model.prior_logvars.numpy()
    weights = special.softmax(model.prior_logits.numpy())
    z = np.random.default_rng(2).normal(size=(5, 2))
    expected = special.logsumexp([np.log(w) + stats.multivariate_normal.logpdf(z, m, np.diag(np.exp(v)))
                                  for w, m, v in zip(weights, means, logvars)], axis=0)
    np.testing.assert_allclose(model.prior_log_prob(z), expected, rtol=1e-5)
    grid_z, cell = aggregate.grid(-12, 12, 600)
    assert abs(np.exp(np.asarray(model.prior_log_prob(grid_z), np.float64)).sum() * cell - 1) < 1e-4
    # One epoch (two steps) through the book's recipe: the prior's own weights move.
    before = model.prior_means.numpy().copy()
    run = runs.train_model(small, model, epochs=1, verbose=0)
    assert np.isfinite(run.history["val_elbo"][0]) and not np.array_equal(run.model.prior_means.numpy(), before)
