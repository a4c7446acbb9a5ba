"""The best Gaussian q per image and the split of log p(x) - ELBO into the approximation and
amortisation gaps (Cremer, Li & Duvenaud, 2018), checked against closed forms and grids."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import optimize, special, stats

from vae_helpers import data, evaluation, models, toy


def _gaussian_kl(mean_q, cov_q, mean_p, cov_p):
    """KL(N(mean_q, cov_q) || N(mean_p, cov_p)) in numpy, the textbook formula."""
    inverse = np.linalg.inv(cov_p)
    diff = mean_p - mean_q
    d = len(mean_q)
    return 0.5 * (np.trace(inverse @ cov_q) + diff @ inverse @ diff - d + np.log(np.linalg.det(cov_p) / np.linalg.det(cov_q)))


@pytest.mark.parametrize("latent_dim", [1, 2, 3])
def test_quadrature_elbo_matches_the_closed_form_of_a_linear_gaussian_model(latent_dim):
    model = toy.LinearGaussian.random(0, data_dim=5, latent_dim=latent_dim)
    x, _ = model.sample(4, seed=1)
    rng = np.random.default_rng(2)
    mean, logvar = rng.normal(size=(4, latent_dim)), rng.normal(size=(4, latent_dim))
    got = evaluation.quadrature_elbo(lambda z: model.log_likelihood(x, z), mean, logvar, num_points=3)
    np.testing.assert_allclose(got, model.exact_elbo(x, mean, logvar), atol=1e-6)


def test_quadrature_elbo_matches_a_fine_grid_on_a_nonlinear_decoder():
    model = toy.TinyBernoulliDecoder(num_pixels=8, latent_dim=2, seed=3)
    x, _ = model.sample(3, seed=4)
    mean = np.array([[0.3, -0.2], [1.0, 0.5], [-0.7, 0.1]])
    logvar = np.log(np.array([[0.2, 0.1], [0.05, 0.12], [0.15, 0.15]]) ** 2)
    got = np.asarray(evaluation.quadrature_elbo(lambda z: model.log_likelihood(x, z), mean, logvar, num_points=30))
    # Independent: the decoder re-written in numpy, E_q by a sum over a 201-point grid of +-8 standard deviations.
    expected = []
    for b in range(3):
        std = np.exp(logvar[b] / 2)
        axes = [np.linspace(m - 8 * s, m + 8 * s, 201) for m, s in zip(mean[b], std)]
        z = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        cell = np.prod([a[1] - a[0] for a in axes])
        logits = np.tanh(z @ model.w1.T + model.b1) @ model.w2.T + model.b2
        log_lik = np.sum(x[b] * special.log_expit(logits) + (1 - x[b]) * special.log_expit(-logits), axis=1)
        q = stats.multivariate_normal(mean[b], np.diag(std**2)).pdf(z)
        kl = _gaussian_kl(mean[b], np.diag(std**2), np.zeros(2), np.eye(2))
        expected.append(np.sum(q * log_lik) * cell - kl)
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_the_optimal_diagonal_gaussian_of_a_linear_gaussian_model_is_the_known_one():
    """The posterior of a linear-Gaussian model is N(m, S) with a full covariance. The diagonal
    Gaussian closest to it in KL(q || p) has mean m and variances 1 / diag(S^-1) (the mean-field
    result, e.g. Bishop 2006, section 10.1.2); its ELBO is log p(x) - KL(q* || p(z|x))."""
    model = toy.LinearGaussian.random(2, data_dim=3, latent_dim=2)
    x, _ = model.sample(3, seed=6)
    posterior_mean, covariance = model.posterior(x)
    # A correlation of about -0.55, so no diagonal q is exact.
    assert abs(covariance[0, 1]) / np.sqrt(covariance[0, 0] * covariance[1, 1]) > 0.3
    variances = 1.0 / np.diag(np.linalg.inv(covariance))
    start = np.zeros((3, 2))
    mean, logvar, elbo = evaluation.optimal_gaussian(
        lambda z: model.log_likelihood(x, z), start, start, steps=400, num_points=3
    )
    np.testing.assert_allclose(mean, posterior_mean, atol=1e-4)
    np.testing.assert_allclose(np.exp(logvar), np.broadcast_to(variances, (3, 2)), rtol=1e-3)
    kl = [_gaussian_kl(m, np.diag(variances), m, covariance) for m in posterior_mean]
    np.testing.assert_allclose(elbo, np.asarray(model.log_marginal(x)) - kl, atol=1e-6)
    assert np.all(np.asarray(kl) > 1e-3)  # the approximation gap this test sees is not zero


def test_no_steps_returns_the_start_and_bad_settings_are_refused():
    model = toy.LinearGaussian.random(0, data_dim=3, latent_dim=2)
    x, _ = model.sample(2, seed=0)
    start = np.zeros((2, 2))
    mean, logvar, elbo = evaluation.optimal_gaussian(lambda z: model.log_likelihood(x, z), start, start, steps=0)
    np.testing.assert_array_equal(mean, start)
    np.testing.assert_allclose(elbo, model.exact_elbo(x, start, start), atol=1e-6)
    with pytest.raises(ValueError, match="steps must be an integer of at least 0"):
        evaluation.optimal_gaussian(lambda z: model.log_likelihood(x, z), start, start, steps=-1)
    with pytest.raises(ValueError, match="monte_carlo_elbo"):
        evaluation.quadrature_elbo(lambda z: z[..., 0], np.zeros((1, 16)), np.zeros((1, 16)))


def test_a_broken_expectation_is_caught_by_the_approximation_gap_check():
    """The chapter asserts approximation gap >= -tolerance. With one quadrature point,
    E_q[log p(x|z)] becomes log p(x|mean): the ELBO no longer pays for q's spread, the 'best'
    q beats log p(x), and the check fails as it should; with enough points it passes."""
    model = toy.TinyBernoulliDecoder(num_pixels=8, latent_dim=2, seed=3)
    x, _ = model.sample(4, seed=7)
    log_marginal = np.asarray(model.log_marginal(x))
    start = np.zeros((4, 2))

    def approximation_gap(num_points):
        best = evaluation.optimal_gaussian(lambda z: model.log_likelihood(x, z), start, start, 300, num_points=num_points)[2]
        return log_marginal - best

    assert np.any(approximation_gap(1) < -0.05)
    assert np.all(approximation_gap(12) > -1e-4)


@pytest.fixture(scope="module")
def images(bundled):
    return data.binarize_once(bundled.test_images[:2], "static")


def test_encoder_elbo_agrees_with_many_monte_carlo_draws(trained_2d, images):
    quadrature = evaluation.encoder_elbo(trained_2d, images)
    sampled, error = evaluation.monte_carlo_elbo(trained_2d, images, 2000)
    assert np.all(np.abs(quadrature - sampled) < 4 * error + 0.02)


def test_best_gaussian_of_a_vae_matches_an_independent_grid_search(trained_2d, images):
    """The oracle shares no code with the package's optimiser: log p(x, z) on a fixed grid
    (the decoder's logits through scipy's log_expit), E_q as a normalised sum over the grid, and
    scipy's Nelder-Mead over q's mean and log-variance."""
    gaps = evaluation.inference_gaps(trained_2d, images, evaluation.grid_log_marginal(trained_2d, images), steps=300)
    means, logvars = (np.asarray(t, np.float64) for t in trained_2d.encode(images))
    for b, image in enumerate(images):
        std = np.exp(logvars[b] / 2)
        # Spacing 0.16 encoder standard deviations: a Gaussian-weighted sum on a regular grid
        # errs by about exp(-2 pi^2 (s / h)^2), negligible even for a q a third as wide.
        axes = [np.linspace(m - 8 * s, m + 8 * s, 101) for m, s in zip(means[b], std)]
        z = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        # In chunks: 10,000 decodes at once would hold a gigabyte of activations.
        logits = np.concatenate([
            np.asarray(trained_2d.decode(chunk.astype(np.float32)), np.float64).reshape(len(chunk), -1)
            for chunk in np.array_split(z, 5)
        ])
        pixels = image.reshape(-1)
        log_joint = np.sum(pixels * special.log_expit(logits) + (1 - pixels) * special.log_expit(-logits), axis=1)
        log_joint += stats.norm.logpdf(z).sum(axis=1)

        def minus_elbo(params):
            q = stats.norm.logpdf(z, params[:2], np.exp(params[2:] / 2)).sum(axis=1)
            weights = np.exp(q - q.max())
            weights /= weights.sum()
            entropy = 0.5 * np.sum(params[2:] + 1 + np.log(2 * np.pi))
            return -(weights @ log_joint + entropy)

        start = np.concatenate([means[b], logvars[b]])
        found = optimize.minimize(minus_elbo, start, method="Nelder-Mead", options=dict(xatol=1e-6, fatol=1e-7, maxiter=4000))
        assert found.success
        assert gaps["optimal_elbo"][b] == pytest.approx(-found.fun, abs=0.03)
        assert gaps["encoder_elbo"][b] == pytest.approx(-minus_elbo(start), abs=0.03)
    assert np.all(gaps["approximation_gap"] > -0.05)
    assert np.all(gaps["amortisation_gap"] >= 0)


def test_inference_gaps_refuses_a_log_marginal_of_the_wrong_shape(trained_2d, images):
    with pytest.raises(ValueError, match="one value per image"):
        evaluation.inference_gaps(trained_2d, images, np.zeros(3), steps=1)


def test_grid_kl_to_the_posterior_of_a_blind_decoder_is_the_kl_to_the_prior(images):
    """Every decoder weight zero: p(x|z) = 2^-784 whatever z, so p(z|x) is the prior and
    KL(q || p(z|x)) is the closed form 0.5 sum(var + mean^2 - 1 - log var), in numpy."""
    from vae_helpers import models

    model = models.CVAE(2, seed=0)
    for layer in model.decoder.layers:
        layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
    mean, logvar = np.array([[0.3, -1.2], [2.0, 0.5]]), np.array([[-3.0, -1.0], [0.2, -6.0]])
    log_marginal = np.full(2, 784 * np.log(0.5))
    got = evaluation.grid_kl_to_posterior(model, images, mean, logvar, log_marginal)
    expected = 0.5 * np.sum(np.exp(logvar) + mean**2 - 1 - logvar, axis=1)
    np.testing.assert_allclose(got, expected, atol=2e-3)  # float32 sums of 784 pixel terms


def test_grid_kl_of_the_encoders_q_is_log_p_minus_its_monte_carlo_elbo(trained_2d, images):
    mean, logvar = (np.asarray(t, np.float64) for t in trained_2d.encode(images))
    exact = evaluation.grid_log_marginal(trained_2d, images)
    kl = evaluation.grid_kl_to_posterior(trained_2d, images, mean, logvar, exact)
    sampled, error = evaluation.monte_carlo_elbo(trained_2d, images, 4000)
    assert np.all(np.abs(kl - (exact - sampled)) < 4 * error + 0.02)
    with pytest.raises(ValueError, match="must have shape"):
        evaluation.grid_kl_to_posterior(trained_2d, images, mean[:1], logvar, exact)


class _TwoModes(models.VAEBase):
    """A 2-D "VAE" whose likelihood has two bumps, the heavier at (-1.5, 0), and whose encoder
    puts q at (0.6, 0), in the basin of the lighter: log p(x|z) = logaddexp(-|z - m1|^2 / 2s^2,
    log 3 - |z - m2|^2 / 2s^2) - log 4 (at most 0, as a Bernoulli's is) for the all-ones image,
    spread evenly over its 784 pixels. The contract's other parts are its defaults."""

    def __init__(self):
        super().__init__(2)
    MODES, SCALE = ((1.5, 0.0), (-1.5, 0.0)), 0.3
    LOG_WEIGHTS = (-np.log(4.0), np.log(3.0) - np.log(4.0))

    def numpy_log_likelihood(self, z):
        bumps = [w - ((z[..., 0] - a) ** 2 + (z[..., 1] - b) ** 2) / (2 * self.SCALE**2)
                 for (a, b), w in zip(self.MODES, self.LOG_WEIGHTS)]
        return np.logaddexp(*bumps)

    def encode(self, x):
        n = len(x)
        return tf.constant(np.tile([[0.6, 0.0]], (n, 1)), tf.float32), tf.zeros((n, 2))

    def decode(self, z):
        bumps = [w - ((z[:, 0] - a) ** 2 + (z[:, 1] - b) ** 2) / (2 * self.SCALE**2)
                 for (a, b), w in zip(self.MODES, self.LOG_WEIGHTS)]
        per_pixel = tf.reduce_logsumexp(tf.stack(bumps), axis=0) / 784.0 - 1e-6  # below 0
        logits = -tf.math.log(tf.math.expm1(-per_pixel))  # log_sigmoid(logits) = per_pixel
        return tf.tile(logits[:, None, None, None], (1, 28, 28, 1))


def test_the_best_gaussian_is_found_on_the_better_of_two_modes():
    model, x = _TwoModes(), np.ones((1, 28, 28, 1), np.float32)
    # The oracle: the best Gaussian by Nelder-Mead from the heavier mode, with E_q on a fine grid.
    axis = np.linspace(-4, 4, 401)
    z = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    log_joint = model.numpy_log_likelihood(z) + stats.norm.logpdf(z).sum(axis=1)

    def minus_elbo(params):
        q = stats.norm.logpdf(z, params[:2], np.exp(params[2:] / 2)).sum(axis=1)
        weights = np.exp(q - q.max())
        return -(weights @ log_joint / weights.sum() + 0.5 * np.sum(params[2:] + 1 + np.log(2 * np.pi)))

    best = -optimize.minimize(minus_elbo, [-1.5, 0.0, -2.0, -2.0], method="Nelder-Mead").fun
    lighter = -optimize.minimize(minus_elbo, [1.5, 0.0, -2.0, -2.0], method="Nelder-Mead").fun
    assert best > lighter + 0.5  # two maxima, the heavier mode's the higher
    found = evaluation.optimal_gaussian_elbo(model, x, steps=150)[0][0]
    assert found == pytest.approx(best, abs=0.03)
    # One search from the encoder's q stops at a worse maximum: the check above fails on it.
    mean, logvar = model.encode(x)
    single = evaluation.optimal_gaussian(evaluation.log_likelihood_of(model, x), mean, logvar, 150)[2][0]
    assert single < best - 0.5
