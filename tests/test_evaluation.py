import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from vae_helpers import data, evaluation, models


@pytest.fixture(scope="module")
def test_x(bundled):
    return data.binarize_once(bundled.test_images[:6], "static")


def test_log_joint_matches_an_independent_computation(trained_2d, test_x):
    z = np.random.default_rng(0).normal(size=(3, 2, 2)).astype(np.float32)
    x = test_x[:2]
    got = np.asarray(evaluation.log_joint_of(trained_2d, x)(z))
    expected = np.zeros((3, 2))
    for s in range(3):
        for b in range(2):
            logits = np.asarray(trained_2d.decode(z[s, b][None]), np.float64)[0]
            log_likelihood = np.sum(x[b] * special.log_expit(logits) + (1 - x[b]) * special.log_expit(-logits))
            expected[s, b] = log_likelihood + stats.norm.logpdf(z[s, b]).sum()
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_grid_quadrature_has_converged(trained_2d, test_x):
    coarse = evaluation.grid_log_marginal(trained_2d, test_x[:2], num_per_axis=61)
    fine = evaluation.grid_log_marginal(trained_2d, test_x[:2], num_per_axis=121, outer_per_axis=121)
    np.testing.assert_allclose(coarse, fine, atol=5e-3)  # float32 likelihoods: ~1e-3 of noise


def test_the_two_grids_tile_the_plane_without_overlap_or_gap(test_x):
    """With every decoder weight zero the logits are 0 whatever z, so log p(x|z) = 784 log(1/2)
    and log p(x) = 784 log(1/2) + log P(z in the grids' region), the region holding all but
    4e-9 of the prior. An overlap of the fine and coarse grids would count mass twice; a gap
    would lose it. (The tolerance is the float32 sum of 784 pixel terms.)"""
    model = models.CVAE(2, seed=0)
    for layer in model.decoder.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    # One image per box size: with every coarse cell equally heavy, each image refines 64 cells.
    for box_stds, image in ((4.0, test_x[:1]), (8.0, test_x[1:2])):
        got = evaluation.grid_log_marginal(model, image, num_per_axis=41, box_stds=box_stds)
        np.testing.assert_allclose(got, 784 * np.log(0.5), atol=5e-4)


def test_iwae_rises_with_k(trained_2d, bundled):
    x = data.binarize_once(bundled.test_images[:256], "static")
    means = [evaluation.iwae(trained_2d, x, k).mean() for k in (1, 10, 100)]
    assert means[0] < means[1] < means[2]


def test_iwae_approaches_the_exact_log_marginal_from_below(trained_2d, test_x):
    exact = evaluation.grid_log_marginal(trained_2d, test_x[:4], num_per_axis=81)
    large_k = evaluation.iwae(trained_2d, test_x[:4], 2000)
    # Two methods that share no code. IWAE is a lower bound in expectation (one estimate can
    # overshoot when a rare sample carries a huge weight), so the average must not exceed the
    # quadrature, and most images agree where q covers the posterior.
    assert large_k.mean() <= exact.mean() + 0.25
    assert np.median(np.abs(large_k - exact)) < 0.5


def test_iwae_repeats_with_its_seed_and_is_batched_consistently(trained_2d, test_x):
    one = evaluation.iwae(trained_2d, test_x, 5, batch_size=6, seed=3)
    np.testing.assert_array_equal(one, evaluation.iwae(trained_2d, test_x, 5, batch_size=6, seed=3))
    assert not np.array_equal(one, evaluation.iwae(trained_2d, test_x, 5, batch_size=6, seed=4))
    # A different batching draws different samples but estimates the same thing (4 standard errors).
    small = np.array([evaluation.iwae(trained_2d, test_x, 5, batch_size=2, seed=s) for s in range(30)])
    whole = np.array([evaluation.iwae(trained_2d, test_x, 5, batch_size=6, seed=s) for s in range(30)])
    error = np.sqrt(small.var(axis=0, ddof=1) / 30 + whole.var(axis=0, ddof=1) / 30)
    assert np.all(np.abs(small.mean(axis=0) - whole.mean(axis=0)) < 4 * error)


def test_iwae_stays_finite_for_extreme_logits(test_x):
    model = models.CVAE(2, seed=0)
    kernel, bias = model.decoder.layers[-1].get_weights()
    model.decoder.layers[-1].set_weights([kernel * 1e4, bias + 1e4])
    scores = evaluation.iwae(model, test_x, 50)
    assert np.all(np.isfinite(scores)) and np.all(scores < -1e4)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_iwae_rejects_bad_k(trained_2d, test_x, k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        evaluation.iwae(trained_2d, test_x, k)


def test_bounds_reject_grey_images_and_wrong_shapes(trained_2d, bundled, test_x):
    with pytest.raises(ValueError, match="binarize_once"):
        evaluation.iwae(trained_2d, bundled.test_images[:4], 1)
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\)"):
        evaluation.iwae(trained_2d, test_x.reshape(-1, 784), 1)
    with pytest.raises(ValueError, match="latent_dim = 2"):
        evaluation.grid_log_marginal(models.CVAE(16), test_x)


def test_kl_per_dimension_sums_to_the_kl_and_matches_the_closed_form(trained_2d, test_x):
    per_dimension = evaluation.kl_per_dimension(trained_2d, test_x, batch_size=4)
    mean, logvar = (np.asarray(t, np.float64) for t in trained_2d.encode(test_x))
    # KL(N(m, s^2) || N(0, 1)) = log(1/s) + (s^2 + m^2) / 2 - 1/2, per dimension.
    sigma = np.exp(logvar / 2)
    expected = (np.log(1 / sigma) + (sigma**2 + mean**2) / 2 - 0.5).mean(axis=0)
    np.testing.assert_allclose(per_dimension, expected, rtol=1e-5)


def test_a_dimension_the_encoder_ignores_is_not_active(bundled):
    model = models.CVAE(4, seed=0)
    images = data.binarize_once(bundled.test_images[:200], "static")
    assert evaluation.active_units(model, images, threshold=1e-6) == 4
    kernel, bias = model.encoder.layers[-1].get_weights()
    kernel[:, 1] = 0.0  # the mean of z_2 no longer depends on x
    model.encoder.layers[-1].set_weights([kernel, bias])
    variances = evaluation.posterior_mean_variance(model, images, batch_size=64)
    assert variances[1] == 0.0
    np.testing.assert_allclose(variances, np.var(np.asarray(model.encode(images)[0], np.float64), axis=0), rtol=1e-5)
    assert evaluation.active_units(model, images, threshold=1e-6) == 3


def test_summarize_gives_the_mean_and_its_standard_error():
    mean, error = evaluation.summarize([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5 and error == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2)


@pytest.mark.parametrize("scores, match", [
    ([], "at least 2 scores"),  # v0.1: (nan, nan)
    ([3.0], "at least 2 scores"),  # v0.1: a standard error of nan
    (np.zeros((2, 2)), "1-D array"),
    ([1.0, np.nan, 2.0], "1 NaN or infinite scores of 3"),
])
def test_summarize_refuses_what_has_no_mean_and_standard_error(scores, match):
    with pytest.raises(ValueError, match=match):
        evaluation.summarize(scores)


@pytest.mark.parametrize("setting, match", [
    (dict(num_per_axis=0), "num_per_axis must be a positive integer"),  # v0.1: -inf
    (dict(outer_per_axis=0), "outer_per_axis must be a positive integer"),
    (dict(limit=0.0), "limit must be a positive finite number"),  # v0.1: NaN
    (dict(box_stds=-1.0), "box_stds must be a positive finite number"),  # v0.1: NaN
    (dict(box_stds=np.nan), "box_stds must be a positive finite number"),
])
def test_grid_log_marginal_refuses_settings_outside_their_range(test_x, setting, match):
    with pytest.raises(ValueError, match=match):
        evaluation.grid_log_marginal(models.CVAE(2, seed=0), test_x[:1], **setting)


@pytest.mark.parametrize("threshold", [np.nan, -0.1, np.inf, "0.01"])
def test_active_units_refuses_a_threshold_that_is_not_a_variance(test_x, threshold):
    # v0.1: NaN compared false everywhere and gave 0 active units.
    with pytest.raises(ValueError, match="threshold must be a finite number >= 0"):
        evaluation.active_units(models.CVAE(2, seed=0), test_x, threshold=threshold)


def test_optimal_gaussian_refuses_a_learning_rate_outside_its_range():
    with pytest.raises(ValueError, match="learning_rate must be a positive finite number"):
        evaluation.optimal_gaussian(lambda z: -tf.reduce_sum(z**2, -1), np.zeros((1, 2)), np.zeros((1, 2)), 2,
                                    learning_rate=np.nan)


def test_inference_gaps_refuses_a_log_marginal_that_is_not_finite(test_x):
    with pytest.raises(ValueError, match="log_marginal holds NaN"):
        evaluation.inference_gaps(models.CVAE(2, seed=0), test_x[:2], np.array([-90.0, np.nan]), steps=1)


def test_rate_distortion_matches_closed_forms(bundled):
    images = data.binarize_once(bundled.test_images[:300], "static")
    model = models.CVAE(2, seed=0)
    terms = evaluation.rate_distortion(model, images, batch_size=128)
    mean, logvar = (np.asarray(t, np.float64) for t in model.encode(images))
    sigma = np.exp(logvar / 2)
    np.testing.assert_allclose(terms["rate"], (np.log(1 / sigma) + (sigma**2 + mean**2) / 2 - 0.5).sum(axis=1), rtol=1e-5, atol=1e-6)  # float32
    # The one-draw estimate is unbiased: its mean error is within 4 standard errors of 0.
    error = terms["rate_one_draw"] - terms["rate"]
    assert abs(error.mean()) < 4 * error.std(ddof=1) / np.sqrt(len(error))
    assert np.std(error) > 0  # and it is an estimate, not the closed form again
    # With every decoder weight zero each pixel has probability 1/2 whatever z: distortion 784 log 2.
    for layer in model.decoder.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    np.testing.assert_allclose(evaluation.rate_distortion(model, images[:5])["distortion"], 784 * np.log(2), rtol=1e-5)


def _variant(likelihood, latent_dim=4):
    """A fresh model scored with `likelihood`; "cvae" is the book's `models.CVAE`."""
    if likelihood == "cvae":
        return models.CVAE(latent_dim, seed=0)
    model = models.LikelihoodCVAE(latent_dim, likelihood, seed=0)
    if likelihood == "gaussian":
        model.log_scale.assign(-1.0)  # sigma = 0.37, so that the scale shows in the score
    return model


@pytest.mark.parametrize("likelihood, pixels", [
    ("cvae", "binary"), ("bernoulli", "binary"), ("continuous_bernoulli", "binary"),
    ("continuous_bernoulli", "grey"), ("gaussian", "grey"),
])
def test_the_elbo_of_each_likelihood_is_the_models_own_test_step_elbo(bundled, likelihood, pixels):
    """The model's test_step (its "elbo" metric, from its own terms) averages draws = 200
    single-sample ELBOs per image; evaluation's Monte Carlo ELBO must agree within its error.
    v0.1 scored every model with the Bernoulli: -543.8 nats against -0.9 for a continuous
    Bernoulli on 0/1 pixels."""
    model = _variant(likelihood)
    grey = bundled.test_images[:4]
    x = data.binarize_once(grey, "static") if pixels == "binary" else grey
    draws = 200
    own = float(model.test_step(np.repeat(x, draws, axis=0))["elbo"])
    elbo, error = evaluation.monte_carlo_elbo(model, x, draws)
    # Two independent means of the same per-draw values: the difference's error is sqrt(2) times.
    tolerance = 4 * np.sqrt(2) * np.sqrt(np.sum(error**2)) / len(x)
    assert abs(elbo.mean() - own) < tolerance, (elbo.mean(), own, tolerance)
    # k = 1 IWAE, the chapters' ELBO, estimates the same thing with one draw per image.
    single = np.mean([evaluation.iwae(model, x, 1, seed=s) for s in range(50)], axis=0)
    assert abs(single.mean() - own) < 4 * np.sqrt(np.sum(error**2) * draws / 50) / len(x)


def test_a_bernoulli_cvae_scores_as_before_and_as_its_likelihood_variant(test_x):
    plain, variant = _variant("cvae"), _variant("bernoulli")
    variant.set_weights(plain.get_weights())
    np.testing.assert_array_equal(evaluation.iwae(plain, test_x, 5, seed=1), evaluation.iwae(variant, test_x, 5, seed=1))
    # The Bernoulli by hand (scipy's log_expit), as log_joint_of's test does for a trained model.
    z = np.zeros((1, 2, 4), np.float32)
    logits = np.asarray(plain.decode(z[0]), np.float64)
    expected = np.sum(test_x[:2] * special.log_expit(logits) + (1 - test_x[:2]) * special.log_expit(-logits), axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(evaluation.log_likelihood_of(plain, test_x[:2])(z))[0], expected, rtol=1e-5)


def _blank_decoder(model):
    """Every decoder weight zero: logits 0 whatever z, pixel means 1/2."""
    for layer in model.decoder.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    return model


def test_grid_and_distortion_use_the_models_likelihood(bundled):
    """At logit 0 the continuous Bernoulli is the uniform density on [0, 1]: log p(x|z) = 0 for
    any image, so log p(x) = log P(z in the grids) = 0 and the distortion is 0 (the Bernoulli
    gives 784 log(1/2)). The Gaussian N(x; 1/2, sigma^2) per pixel is checked against scipy."""
    grey = bundled.test_images[:3]
    uniform = _blank_decoder(_variant("continuous_bernoulli", latent_dim=2))
    np.testing.assert_allclose(evaluation.grid_log_marginal(uniform, grey, num_per_axis=21), 0.0, atol=1e-3)
    np.testing.assert_allclose(evaluation.rate_distortion(uniform, grey)["distortion"], 0.0, atol=1e-3)
    gaussian = _blank_decoder(_variant("gaussian", latent_dim=2))
    expected = stats.norm.logpdf(grey.astype(np.float64), 0.5, np.exp(-1.0)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(evaluation.rate_distortion(gaussian, grey)["distortion"], -expected, rtol=1e-5)
    np.testing.assert_allclose(evaluation.encoder_elbo(gaussian, grey),
                               expected - evaluation.rate_distortion(gaussian, grey)["rate"], rtol=1e-5)


def test_grey_images_are_scored_by_a_continuous_likelihood_and_refused_by_a_bernoulli_one(bundled):
    grey = bundled.test_images[:2]
    assert np.all(np.isfinite(evaluation.iwae(_variant("continuous_bernoulli"), grey, 2)))
    with pytest.raises(ValueError, match="grey levels.*binarize_once"):
        evaluation.iwae(_variant("bernoulli"), grey, 2)


def test_a_model_outside_the_contract_is_refused_with_the_fix(test_x):
    class Plain:  # encode and decode alone: no prior, posterior or likelihood to score with
        latent_dim = 2

    with pytest.raises(TypeError, match="models of vae_helpers.models"):
        evaluation.monte_carlo_elbo(Plain(), test_x, 2)


def test_iwae_diagnostics_give_iwaes_values_and_the_spread_of_its_weights(trained_2d, test_x):
    """Same draws as iwae (batches and chunks alike); ESS and standard error against numpy on the
    log-weights drawn by bounds.log_weights with the same generator."""
    import keras

    from vae_helpers import bounds

    found = evaluation.iwae_diagnostics(trained_2d, test_x, 30, batch_size=4, seed=5)
    np.testing.assert_array_equal(found["iwae"], evaluation.iwae(trained_2d, test_x, 30, batch_size=4, seed=5))
    generator = keras.random.SeedGenerator(5)
    log_w = []
    for start in range(0, len(test_x), 4):
        x = test_x[start : start + 4]
        mean, logvar = trained_2d.encode(x)
        log_w.append(np.asarray(bounds.log_weights(evaluation.log_joint_of(trained_2d, x), mean, logvar, 30, generator), np.float64))
    log_w = np.concatenate(log_w, axis=1)
    w = np.exp(log_w - log_w.max(axis=0))
    np.testing.assert_allclose(found["ess"], w.sum(0) ** 2 / (w**2).sum(0), rtol=1e-4)
    np.testing.assert_allclose(found["standard_error"], w.std(0, ddof=1) / (np.sqrt(30) * w.mean(0)), rtol=1e-4)
    assert np.all((found["ess"] >= 1 - 1e-6) & (found["ess"] <= 30 + 1e-6))


def test_iwae_outliers_hold_each_image_to_its_own_error():
    exact = np.zeros(5)
    estimate = np.array([-0.1, 0.2, -0.7, 2.0, 0.5])
    error = np.array([0.1, 0.05, 0.1, 1.0, 0.1])
    # By hand, |gap| against 3 * error + 0.1: 0.1 <= 0.4, 0.2 <= 0.25, 0.7 > 0.4, 2 <= 3.1, 0.5 > 0.4;
    # as a bound only the estimates above 0 count: 0.5 > 0.4.
    np.testing.assert_array_equal(evaluation.iwae_outliers(exact, estimate, error, margin=0.1), [2, 4])
    np.testing.assert_array_equal(evaluation.iwae_outliers(exact, estimate, error, 0.1, bound_only=True), [4])
    with pytest.raises(ValueError, match="1-D arrays of one shape"):
        evaluation.iwae_outliers(exact, estimate[:3], error, margin=0.1)


def test_correlation_interval_is_scipys_fisher_interval_and_covers_the_truth():
    rng = np.random.default_rng(9)
    x = rng.normal(size=16)
    y = 0.6 * x + rng.normal(size=16)
    r, low, high = evaluation.correlation_interval(x, y)
    expected = stats.pearsonr(x, y)
    assert r == pytest.approx(expected.statistic, abs=1e-12)
    np.testing.assert_allclose([low, high], expected.confidence_interval(0.95), rtol=1e-10)
    # Coverage by simulation: bivariate normal pairs with rho = 0.5, 16 at a time.
    rho, hits, trials = 0.5, 0, 2000
    for _ in range(trials):
        a = rng.normal(size=16)
        b = rho * a + np.sqrt(1 - rho**2) * rng.normal(size=16)
        _, low, high = evaluation.correlation_interval(a, b)
        hits += low < rho < high
    assert abs(hits / trials - 0.95) < 4 * np.sqrt(0.95 * 0.05 / trials)
    assert evaluation.correlation_interval(x[:3], y[:3])[1:] == (-1.0, 1.0)
    with pytest.raises(ValueError, match="level"):
        evaluation.correlation_interval(x, y, level=95)


def test_decode_logits_gives_the_decoders_logits_in_blocks(trained_2d, monkeypatch):
    # Three blocks and a ragged last one; the same logits as one eager call.
    monkeypatch.setattr(models.base, "DECODE_BATCH", 4)
    z = np.random.default_rng(1).normal(size=(11, 2)).astype(np.float32)
    np.testing.assert_allclose(evaluation.decode_logits(trained_2d, z), trained_2d.decode(z), atol=1e-4)
    # Inside a compiled function (optimal_gaussian's step) it is the decoder itself, with gradients.
    codes = tf.Variable(z)

    @tf.function
    def gradient():
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(evaluation.decode_logits(trained_2d, codes))
        return tape.gradient(total, codes)

    assert gradient().shape == z.shape
    with pytest.raises(ValueError, match=r"decode expects z of shape \(batch, 2\)"):
        evaluation.decode_logits(trained_2d, np.zeros((3, 5), np.float32))
