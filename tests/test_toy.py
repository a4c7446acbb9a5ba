"""The exact models against scipy, Gaussian conditioning in numpy, and adaptive quadrature."""

import numpy as np
import pytest
from scipy import integrate, stats

from vae_helpers import toy


@pytest.fixture
def linear():
    return toy.LinearGaussian.random(seed=0, data_dim=5, latent_dim=3)


def test_log_marginal_matches_scipy_multivariate_normal(linear):
    x, _ = linear.sample(6, seed=1)
    covariance = linear.weights @ linear.weights.T + linear.noise_std**2 * np.eye(5)
    expected = stats.multivariate_normal(linear.bias, covariance).logpdf(x)
    np.testing.assert_allclose(linear.log_marginal(x).numpy(), expected, rtol=1e-12)


def test_posterior_matches_gaussian_conditioning(linear):
    x, _ = linear.sample(4, seed=2)
    # Condition the joint Gaussian of (z, x) on x: an independent route to p(z|x).
    covariance_x = linear.weights @ linear.weights.T + linear.noise_std**2 * np.eye(5)
    gain = linear.weights.T @ np.linalg.inv(covariance_x)
    mean, covariance = linear.posterior(x)
    np.testing.assert_allclose(mean, (x - linear.bias) @ gain.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(covariance, np.eye(3) - gain @ linear.weights, rtol=1e-10, atol=1e-12)


def test_bayes_rule_holds_pointwise(linear):
    x, _ = linear.sample(1, seed=3)
    z = np.random.default_rng(4).normal(size=(1, 3))
    mean, covariance = linear.posterior(x)
    log_posterior = stats.multivariate_normal(mean[0], covariance).logpdf(z[0])
    joint = linear.log_joint(x, z).numpy()[0]
    np.testing.assert_allclose(joint - linear.log_marginal(x).numpy()[0], log_posterior, rtol=1e-8)


def test_exact_elbo_matches_a_large_monte_carlo_average(linear):
    x, _ = linear.sample(2, seed=5)
    rng = np.random.default_rng(6)
    mean, logvar = rng.normal(size=(2, 3)), rng.uniform(-2, 0, size=(2, 3))
    z = mean + np.exp(0.5 * logvar) * rng.normal(size=(200_000, 2, 3))
    log_q = stats.norm.logpdf(z, mean, np.exp(0.5 * logvar)).sum(-1)
    log_p = stats.norm.logpdf(z).sum(-1) + stats.norm.logpdf(x, z @ linear.weights.T + linear.bias, linear.noise_std).sum(-1)
    weights = log_p - log_q
    standard_error = weights.std(axis=0) / np.sqrt(len(weights))
    assert np.all(np.abs(linear.exact_elbo(x, mean, logvar).numpy() - weights.mean(axis=0)) < 4 * standard_error)


def test_orthogonal_models_have_diagonal_posteriors():
    model = toy.LinearGaussian.random(seed=1, data_dim=6, latent_dim=3, orthogonal=True)
    _, covariance = model.posterior(np.zeros((1, 6)))
    np.testing.assert_allclose(covariance - np.diag(np.diag(covariance)), 0.0, atol=1e-12)


def test_linear_gaussian_rejects_bad_parameters():
    with pytest.raises(ValueError, match="noise_std"):
        toy.LinearGaussian(np.ones((3, 2)), np.zeros(3), 0.0)
    with pytest.raises(ValueError, match=r"\(D, d\)"):
        toy.LinearGaussian(np.ones((3, 2)), np.zeros(4), 1.0)


def _numpy_joint_density(model, x, z):
    """p(x, z) written again in plain numpy from the decoder's weights. x: (P,); z: (..., d)."""
    logits = np.tanh(z @ model.w1.T + model.b1) @ model.w2.T + model.b2
    log_px_z = np.sum(x * -np.logaddexp(0, -logits) + (1 - x) * -np.logaddexp(0, logits), axis=-1)
    return np.exp(log_px_z + stats.norm.logpdf(z).sum(-1))


def test_nonlinear_log_marginal_matches_adaptive_quadrature_1d():
    model = toy.TinyBernoulliDecoder(num_pixels=8, latent_dim=1, seed=0)
    x, _ = model.sample(3, seed=1)
    for i in range(3):
        value, _ = integrate.quad(lambda z: _numpy_joint_density(model, x[i], np.array([z])), -12, 12, limit=400, epsabs=0, epsrel=1e-11)
        np.testing.assert_allclose(model.log_marginal(x[i : i + 1]).numpy()[0], np.log(value), rtol=1e-8)


def test_nonlinear_log_marginal_matches_simpson_rule_2d():
    model = toy.TinyBernoulliDecoder(num_pixels=6, latent_dim=2, seed=3)
    x, _ = model.sample(2, seed=2)
    axis = np.linspace(-9, 9, 1201)
    mesh = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1)
    for i in range(2):
        value = integrate.simpson(integrate.simpson(_numpy_joint_density(model, x[i], mesh), x=axis), x=axis)
        np.testing.assert_allclose(model.log_marginal(x[i : i + 1], points_per_dim=301).numpy()[0], np.log(value), rtol=1e-7)


def test_nonlinear_model_only_takes_small_latents():
    with pytest.raises(ValueError, match="1 or 2"):
        toy.TinyBernoulliDecoder(latent_dim=3)


def test_bernoulli_log_likelihood_computes_the_logits_once_and_matches_scipy():
    model = toy.TinyBernoulliDecoder(num_pixels=5, latent_dim=2, seed=1)
    x, _ = model.sample(3, seed=0)
    z = np.random.default_rng(2).normal(size=(4, 3, 2))
    calls = []
    logits_of = model.logits
    model.logits = lambda z: calls.append(1) or logits_of(z)
    got = model.log_likelihood(x, z).numpy()
    assert len(calls) == 1  # the decoder runs once, not twice, per call (a 401^2 grid in log_marginal)
    probabilities = 1.0 / (1.0 + np.exp(-logits_of(z).numpy()))
    expected = stats.bernoulli(probabilities).logpmf(np.broadcast_to(x, probabilities.shape)).sum(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-10)
