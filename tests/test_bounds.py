"""The Monte Carlo bounds against exact log p(x), closed-form ELBOs and their defining inequalities."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vae_helpers import bounds, toy


def _linear_case(seed, data_dim=4, latent_dim=2):
    model = toy.LinearGaussian.random(seed=seed, data_dim=data_dim, latent_dim=latent_dim)
    x, _ = model.sample(3, seed=seed + 1)
    return model, x, (lambda z: model.log_joint(x, z))


def test_many_sample_elbo_converges_to_the_exact_elbo():
    model, x, log_joint = _linear_case(0)
    rng = np.random.default_rng(0)
    mean, logvar = rng.normal(size=(3, 2)), rng.uniform(-1, 0, size=(3, 2))
    samples = bounds.log_weights(log_joint, mean, logvar, 100_000, seed=1).numpy()
    standard_error = samples.std(axis=0) / np.sqrt(len(samples))
    estimate = bounds.elbo(log_joint, mean, logvar, 100_000, seed=1).numpy()
    np.testing.assert_allclose(estimate, samples.mean(axis=0))
    assert np.all(np.abs(estimate - model.exact_elbo(x, mean, logvar).numpy()) < 4 * standard_error)


def test_analytic_kl_elbo_is_unbiased():
    model, x, _ = _linear_case(1)
    mean, logvar = np.zeros((3, 2)), np.full((3, 2), -0.5)
    log_likelihood = lambda z: model.log_likelihood(x, z)
    estimate = bounds.elbo_analytic_kl(log_likelihood, mean, logvar, 100_000, seed=2).numpy()
    spread = log_likelihood(bounds.sample_q(mean, logvar, 100_000, seed=2)).numpy().std(axis=0)
    assert np.all(np.abs(estimate - model.exact_elbo(x, mean, logvar).numpy()) < 4 * spread / np.sqrt(100_000))


def test_elbo_at_the_exact_posterior_is_log_p_x():
    model = toy.LinearGaussian.random(seed=2, data_dim=5, latent_dim=3, orthogonal=True)
    x, _ = model.sample(4, seed=3)
    mean, covariance = model.posterior(x)
    logvar = np.log(np.diag(covariance))[None].repeat(4, axis=0)
    np.testing.assert_allclose(model.exact_elbo(x, mean, logvar).numpy(), model.log_marginal(x).numpy(), atol=1e-6)
    # With the exact posterior every importance weight equals p(x): even one sample is exact.
    single = bounds.elbo(lambda z: model.log_joint(x, z), mean, logvar, 1, seed=0).numpy()
    np.testing.assert_allclose(single, model.log_marginal(x).numpy(), atol=1e-6)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10_000), latent_dim=st.integers(1, 4), noise=st.floats(0.05, 3.0),
       shift=st.floats(-3, 3), log_scale=st.floats(-4, 2))
def test_elbo_never_exceeds_log_p_x(seed, latent_dim, noise, shift, log_scale):
    model = toy.LinearGaussian.random(seed=seed, data_dim=latent_dim + 2, latent_dim=latent_dim, noise_std=noise)
    x, _ = model.sample(2, seed=seed)
    mean = np.full((2, latent_dim), shift)
    logvar = np.full((2, latent_dim), log_scale)
    gap = model.log_marginal(x).numpy() - model.exact_elbo(x, mean, logvar).numpy()
    assert np.all(gap >= -1e-9)


def test_gap_is_the_kl_to_the_exact_posterior():
    model, x, _ = _linear_case(4, latent_dim=3)
    rng = np.random.default_rng(5)
    mean, logvar = rng.normal(size=(3, 3)), rng.uniform(-2, 1, size=(3, 3))
    post_mean, post_cov = model.posterior(x)
    inverse = np.linalg.inv(post_cov)
    kl = []
    for m, v, pm in zip(mean, np.exp(logvar), post_mean):  # KL(N(m, diag v) || N(pm, post_cov)), textbook form
        kl.append(0.5 * (np.trace(inverse @ np.diag(v)) + (pm - m) @ inverse @ (pm - m) - 3
                         + np.linalg.slogdet(post_cov)[1] - np.log(v).sum()))
    gap = model.log_marginal(x).numpy() - model.exact_elbo(x, mean, logvar).numpy()
    np.testing.assert_allclose(gap, kl, rtol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iwae_rises_with_k_towards_log_p_x(seed):
    model, x, log_joint = _linear_case(10 + seed)
    mean, logvar = np.zeros((3, 2)), np.zeros((3, 2))  # the prior as q: a poor proposal
    repeats = 200
    averages = [np.mean([bounds.iwae(log_joint, mean, logvar, k, seed=r).numpy() for r in range(repeats)], axis=0) for k in (1, 10, 100)]
    exact = model.log_marginal(x).numpy()
    assert np.all(np.diff(np.stack(averages), axis=0) > 0)
    assert np.all(averages[-1] <= exact + 0.05)
    large = bounds.iwae(log_joint, mean, logvar, 200_000, seed=7, chunk_size=50_000).numpy()
    np.testing.assert_allclose(large, exact, atol=0.05)


def test_iwae_with_one_sample_is_the_single_sample_elbo():
    _, _, log_joint = _linear_case(3)
    mean, logvar = np.ones((3, 2)), np.full((3, 2), -1.0)
    np.testing.assert_allclose(bounds.iwae(log_joint, mean, logvar, 1, seed=3).numpy(),
                               bounds.elbo(log_joint, mean, logvar, 1, seed=3).numpy())


def test_iwae_chunks_do_not_change_the_estimator():
    _, _, log_joint = _linear_case(6)
    mean, logvar = np.zeros((3, 2)), np.zeros((3, 2))
    whole = np.mean([bounds.iwae(log_joint, mean, logvar, 64, seed=s).numpy() for s in range(300)], axis=0)
    chunked = np.mean([bounds.iwae(log_joint, mean, logvar, 64, seed=s, chunk_size=10).numpy() for s in range(300)], axis=0)
    np.testing.assert_allclose(whole, chunked, atol=0.1)


def test_iwae_is_finite_for_extreme_log_weights():
    mean, logvar = np.zeros((2, 1)), np.zeros((2, 1))
    value = bounds.iwae(lambda z: -1e6 * z[..., 0] ** 2 - 1e4, mean, logvar, 1000, seed=0).numpy()
    assert np.all(np.isfinite(value))


@pytest.mark.parametrize("k", [0, -3, 2.5, True])
def test_iwae_rejects_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        bounds.iwae(lambda z: z[..., 0], np.zeros((1, 1)), np.zeros((1, 1)), k)


def test_bounds_reject_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(batch, latent_dim\)"):
        bounds.elbo(lambda z: z[..., 0], np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="log_joint must map"):
        bounds.elbo(lambda z: z, np.zeros((2, 3)), np.zeros((2, 3)))


def test_importance_diagnostics_match_numpy_on_the_same_weights_and_iwae():
    """ESS, standard error and IWAE_k from the running sums against numpy on the drawn weights."""
    import keras
    from scipy.special import logsumexp

    _, _, log_joint = _linear_case(7)
    mean, logvar = np.full((3, 2), 0.3), np.full((3, 2), -1.2)
    found = {n: v.numpy() for n, v in bounds.importance_diagnostics(log_joint, mean, logvar, 50, seed=4, chunk_size=7).items()}
    # The same draws: iwae with the same seed and chunks, and log_weights chunk by chunk.
    np.testing.assert_allclose(found["iwae"], bounds.iwae(log_joint, mean, logvar, 50, seed=4, chunk_size=7).numpy(), rtol=1e-12)
    generator = keras.random.SeedGenerator(4)
    log_w = np.concatenate([bounds.log_weights(log_joint, mean, logvar, min(7, 50 - s), generator).numpy()
                            for s in range(0, 50, 7)])
    w = np.exp(log_w - log_w.max(axis=0))
    np.testing.assert_allclose(found["ess"], w.sum(axis=0) ** 2 / (w**2).sum(axis=0), rtol=1e-9)
    np.testing.assert_allclose(found["standard_error"], w.std(axis=0, ddof=1) / (np.sqrt(50) * w.mean(axis=0)), rtol=1e-9)
    np.testing.assert_allclose(found["iwae"], logsumexp(log_w, axis=0) - np.log(50), rtol=1e-12)
    one = bounds.importance_diagnostics(log_joint, mean, logvar, 1, seed=4)
    assert np.all(one["ess"].numpy() == pytest.approx(1.0)) and np.all(np.isinf(one["standard_error"].numpy()))


def test_ess_share_tends_to_one_over_the_weights_second_moment():
    """For a 1-D linear-Gaussian model, ESS / k -> 1 / E_q[(p(z|x) / q(z))^2] as k grows; the
    second moment by scipy's quad over z. A q narrower than sigma / sqrt(2) of the posterior has
    an infinite second moment (the c/k rule's assumption fails); this one is wide enough."""
    from scipy import integrate, stats

    model = toy.LinearGaussian.random(seed=5, data_dim=3, latent_dim=1)
    x, _ = model.sample(1, seed=6)
    post_mean, post_cov = model.posterior(x)
    mu, sigma = post_mean[0, 0], np.sqrt(post_cov[0, 0])
    m, s = mu + 0.5 * sigma, 1.3 * sigma
    second, _ = integrate.quad(lambda z: stats.norm.pdf(z, mu, sigma) ** 2 / stats.norm.pdf(z, m, s), mu - 30 * sigma, mu + 30 * sigma)
    found = bounds.importance_diagnostics(lambda z: model.log_joint(x, z), np.array([[m]]), np.array([[2 * np.log(s)]]),
                                          200_000, seed=0)
    assert found["ess"].numpy()[0] / 200_000 == pytest.approx(1 / second, rel=0.03)


def test_the_delta_method_error_is_the_spread_of_repeated_estimates():
    """Where the weights have a finite variance (q wider than the posterior, off its mean)."""
    model, x, log_joint = _linear_case(8)
    post_mean, post_cov = model.posterior(x)
    mean, logvar = post_mean + 0.3, np.log(np.broadcast_to(1.5 * np.diag(post_cov), post_mean.shape))
    estimates = np.array([bounds.iwae(log_joint, mean, logvar, 500, seed=s).numpy() for s in range(60)])
    error = bounds.importance_diagnostics(log_joint, mean, logvar, 500, seed=999)["standard_error"].numpy()
    np.testing.assert_allclose(estimates.std(axis=0, ddof=1), error, rtol=0.3)
