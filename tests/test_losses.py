"""The loss functions against scipy and hand-written numpy, never against themselves."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, special, stats

from vae_helpers import losses, models


def test_log_normal_pdf_matches_scipy(rng):
    sample, mean = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    logvar = rng.uniform(-3, 3, size=(5, 3))
    expected = stats.norm.logpdf(sample, loc=mean, scale=np.exp(0.5 * logvar)).sum(axis=1)
    np.testing.assert_allclose(losses.log_normal_pdf(sample, mean, logvar).numpy(), expected, rtol=1e-12)
    full_covariance = [stats.multivariate_normal(mean[i], np.diag(np.exp(logvar[i]))).logpdf(sample[i]) for i in range(5)]
    np.testing.assert_allclose(losses.log_normal_pdf(sample, mean, logvar).numpy(), full_covariance, rtol=1e-10)


def test_log_normal_pdf_with_scalar_zeros_is_the_standard_normal_prior(rng):
    z = rng.normal(size=(4, 2)).astype(np.float32)
    np.testing.assert_allclose(losses.log_normal_pdf(z, 0.0, 0.0).numpy(), stats.norm.logpdf(z).sum(axis=1), rtol=1e-5)


def test_log_normal_pdf_other_axis(rng):
    sample = rng.normal(size=(3, 6))
    expected = stats.norm.logpdf(sample).sum(axis=0)
    np.testing.assert_allclose(losses.log_normal_pdf(sample, 0.0, 0.0, raxis=0).numpy(), expected, rtol=1e-12)


def _gaussian_kl_full(mean0, cov0, mean1, cov1):
    """KL(N(mean0, cov0) || N(mean1, cov1)) for full covariances: the textbook formula."""
    k = len(mean0)
    inverse = np.linalg.inv(cov1)
    difference = mean1 - mean0
    _, logdet0 = np.linalg.slogdet(cov0)
    _, logdet1 = np.linalg.slogdet(cov1)
    return 0.5 * (np.trace(inverse @ cov0) + difference @ inverse @ difference - k + logdet1 - logdet0)


def test_analytic_kl_matches_the_full_covariance_formula(rng):
    mean = rng.normal(size=(6, 4))
    logvar = rng.uniform(-2, 2, size=(6, 4))
    expected = [_gaussian_kl_full(mean[i], np.diag(np.exp(logvar[i])), np.zeros(4), np.eye(4)) for i in range(6)]
    np.testing.assert_allclose(losses.analytic_kl(mean, logvar).numpy(), expected, rtol=1e-10)


def test_analytic_kl_matches_a_numerical_integral_in_one_dimension():
    mean, logvar = 0.7, -0.4
    q = stats.norm(mean, np.exp(0.5 * logvar))
    integral, _ = integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - stats.norm.logpdf(z)), -12, 12)
    np.testing.assert_allclose(losses.analytic_kl(np.array([[mean]]), np.array([[logvar]])).numpy(), [integral], rtol=1e-8)


def test_analytic_kl_is_zero_only_at_the_prior():
    np.testing.assert_allclose(losses.analytic_kl(np.zeros((1, 3)), np.zeros((1, 3))).numpy(), [0.0], atol=1e-12)
    assert losses.analytic_kl(np.full((1, 3), 1e-3), np.zeros((1, 3))).numpy()[0] > 0


def test_bernoulli_log_likelihood_matches_scipy(rng):
    x = (rng.uniform(size=(3, 28, 28, 1)) < 0.3).astype(np.float64)
    logits = rng.normal(scale=3.0, size=(3, 28, 28, 1))
    expected = stats.bernoulli.logpmf(x, special.expit(logits)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(x, logits).numpy(), expected, rtol=1e-9)


def test_bernoulli_log_likelihood_is_exact_for_huge_logits():
    # Worked by hand: log sigmoid(1e4) = -log(1 + e^-1e4) = 0 in floating point, and
    # log(1 - sigmoid(1e4)) = -1e4 - log(1 + e^-1e4) = -1e4.
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 0, 0, 0] = 1.0
    logits = np.full((1, 28, 28, 1), -1e4, np.float32)
    logits[0, 0, 0, 0] = 1e4
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(x, logits).numpy(), [0.0])
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(1.0 - x, logits).numpy(), [-1e4 * 784], rtol=1e-6)


class LinearModel:
    """A tiny stand-in for a VAE whose every step numpy can redo: fixed encoder outputs, a fixed
    noise draw, and a linear decoder onto 28x28 logits."""

    def __init__(self, rng, batch=4, latent_dim=3):
        self.mean = rng.normal(size=(batch, latent_dim)).astype(np.float32)
        self.logvar = rng.uniform(-1, 1, size=(batch, latent_dim)).astype(np.float32)
        self.eps = rng.normal(size=(batch, latent_dim)).astype(np.float32)
        self.weights = rng.normal(scale=0.5, size=(latent_dim, 784)).astype(np.float32)

    # The contract's default prior, posterior and likelihood, which elbo_terms asks a model for.
    prior_log_prob = models.VAEBase.prior_log_prob
    posterior_log_prob = models.VAEBase.posterior_log_prob
    pixel_log_likelihood = models.VAEBase.pixel_log_likelihood
    standard_prior = models.VAEBase.standard_prior
    standard_posterior = models.VAEBase.standard_posterior
    require_standard_prior = models.VAEBase.require_standard_prior
    require_gaussian_posterior = models.VAEBase.require_gaussian_posterior

    def encode(self, x):
        return tf.constant(self.mean), tf.constant(self.logvar)

    def reparameterize(self, mean, logvar):
        return mean + tf.exp(0.5 * logvar) * self.eps

    def decode(self, z):
        return tf.reshape(tf.matmul(z, self.weights), (-1, 28, 28, 1))

    def reference_terms(self, x):
        """log p(x|z), log p(z) and log q(z|x) with scipy, in float64."""
        mean, logvar, eps = (a.astype(np.float64) for a in (self.mean, self.logvar, self.eps))
        z = mean + np.exp(0.5 * logvar) * eps
        probabilities = special.expit(z @ self.weights.astype(np.float64))
        log_px_z = stats.bernoulli.logpmf(x.reshape(len(x), -1), probabilities).sum(axis=1)
        log_pz = stats.norm.logpdf(z).sum(axis=1)
        log_qz_x = stats.norm.logpdf(z, mean, np.exp(0.5 * logvar)).sum(axis=1)
        return log_px_z, log_pz, log_qz_x


@pytest.fixture
def linear_case(rng):
    model = LinearModel(rng)
    x = (rng.uniform(size=(4, 28, 28, 1)) < 0.4).astype(np.float32)
    return model, x


def test_elbo_terms_match_scipy(linear_case):
    model, x = linear_case
    log_px_z, log_pz, log_qz_x = model.reference_terms(x)
    terms = losses.elbo_terms(model, x)
    np.testing.assert_allclose(terms["reconstruction"].numpy(), log_px_z, rtol=1e-4)
    np.testing.assert_allclose(terms["kl"].numpy(), log_qz_x - log_pz, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(terms["elbo"].numpy(), log_px_z + log_pz - log_qz_x, rtol=1e-4)


def test_compute_loss_is_the_seeds_negative_mean_elbo(linear_case):
    model, x = linear_case
    log_px_z, log_pz, log_qz_x = model.reference_terms(x)
    np.testing.assert_allclose(losses.compute_loss(model, x).numpy(), -np.mean(log_px_z + log_pz - log_qz_x), rtol=1e-5)


def test_analytic_variant_uses_the_closed_form_kl(linear_case):
    model, x = linear_case
    log_px_z, _, _ = model.reference_terms(x)
    kl = [_gaussian_kl_full(m, np.diag(np.exp(v)), np.zeros(3), np.eye(3)) for m, v in zip(model.mean.astype(float), model.logvar.astype(float))]
    terms = losses.elbo_terms(model, x, kl="analytic")
    np.testing.assert_allclose(terms["kl"].numpy(), kl, rtol=1e-5)
    np.testing.assert_allclose(losses.compute_loss_analytic_kl(model, x).numpy(), -np.mean(log_px_z - kl), rtol=1e-5)


def test_unknown_kl_estimator_is_rejected(linear_case):
    model, x = linear_case
    with pytest.raises(ValueError, match="monte_carlo"):
        losses.elbo_terms(model, x, kl="exact")


def test_monte_carlo_kl_averages_to_the_analytic_kl(rng):
    mean = rng.normal(size=(1, 4)).astype(np.float32)
    logvar = rng.uniform(-1, 1, size=(1, 4)).astype(np.float32)
    z = mean + np.exp(0.5 * logvar) * rng.normal(size=(200_000, 4)).astype(np.float32)
    estimates = (losses.log_normal_pdf(z, mean, logvar) - losses.log_normal_pdf(z, 0.0, 0.0)).numpy()
    exact = _gaussian_kl_full(mean[0].astype(float), np.diag(np.exp(logvar[0].astype(float))), np.zeros(4), np.eye(4))
    standard_error = estimates.std() / np.sqrt(len(estimates))
    assert abs(estimates.mean() - exact) < 4 * standard_error


@pytest.mark.parametrize("logvar", [30.0, -30.0])
def test_extreme_log_variances_stay_finite(logvar):
    mean = np.zeros((2, 3), np.float32)
    logvar = np.full((2, 3), logvar, np.float32)
    z = np.ones((2, 3), np.float32)
    assert np.all(np.isfinite(losses.log_normal_pdf(z, mean, logvar).numpy()))
    assert np.all(np.isfinite(losses.analytic_kl(mean, logvar).numpy()))
