"""The checks that chapters 1, 2 and 6 make can fail: each passes on the right input and fails on
a perturbed one. (The chapters run them on their own data; these tests rerun the same comparison
on small cases, so that a check that can no longer fail shows up here.)"""

import math

import numpy as np
from scipy import spatial, special, stats

from vae_helpers import bounds, latent, toy


def _gap_and_kl(decoder, x, mean, logvar, log_q_of_sample=None, num_samples=200_000):
    """Chapter 2's nonlinear check: log p(x) - ELBO (package quadrature, Monte Carlo ELBO) and
    KL(q || p(z|x)) by a separate numpy/scipy quadrature. `log_q_of_sample` replaces the ELBO's
    log q (to plant a bug). Returns (gap, its standard error, KL)."""
    log_px = decoder.log_marginal(x).numpy()[0]
    if log_q_of_sample is None:
        weights = bounds.log_weights(lambda z: decoder.log_joint(x, z), mean, logvar, num_samples, seed=10)
        weights = weights.numpy()[:, 0]
    else:
        z = bounds.sample_q(mean, logvar, num_samples, seed=10)
        weights = decoder.log_joint(x, z).numpy()[:, 0] - log_q_of_sample(z.numpy()[:, 0, :])
    axis = np.linspace(-8, 8, 801)
    nodes = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    logits = np.tanh(nodes @ decoder.w1.T + decoder.b1) @ decoder.w2.T + decoder.b2
    log_joint = special.log_expit((2 * x[0] - 1) * logits).sum(axis=1) + stats.norm.logpdf(nodes).sum(axis=1)
    cell = (axis[1] - axis[0]) ** 2
    log_posterior = log_joint - special.logsumexp(log_joint) - np.log(cell)
    log_q = stats.norm.logpdf(nodes, mean[0], np.exp(0.5 * logvar[0])).sum(axis=1)
    kl = np.sum(np.exp(log_q) * cell * (log_q - log_posterior))
    return log_px - weights.mean(), weights.std() / np.sqrt(num_samples), kl


def test_chapter_2_gap_check_holds_and_catches_an_elbo_that_scores_q_with_the_wrong_scale():
    decoder = toy.TinyBernoulliDecoder(num_pixels=8, latent_dim=2, seed=42)
    x, _ = decoder.sample(1, seed=2)
    mean, logvar = np.array([[0.2, -0.3]]), np.array([[-1.0, -1.5]])
    gap, error, kl = _gap_and_kl(decoder, x, mean, logvar)
    assert abs(gap - kl) < 4 * error + 1e-4

    # The classic slip: the variance passed where the standard deviation belongs.
    def wrong_log_q(z):
        return stats.norm.logpdf(z, mean[0], np.exp(logvar[0])).sum(axis=1)

    gap, error, kl = _gap_and_kl(decoder, x, mean, logvar, log_q_of_sample=wrong_log_q)
    assert abs(gap - kl) > 10 * error + 1e-4
    # The identity chapter 2 used to assert, ELBO + KL = sum of q's mass times log p(x) on one
    # grid, holds for any q and any joint: it could not have caught this.


def _share_below_check(axis_values, probabilities, num_draws=200_000):
    """Chapter 6's grid check: the share of prior draws below each value is its probability."""
    draws = np.sort(np.random.default_rng(0).normal(size=num_draws))
    share_below = np.searchsorted(draws, axis_values) / num_draws
    tolerance = 4 * np.sqrt(probabilities * (1 - probabilities) / num_draws)
    return bool(np.all(np.abs(share_below - probabilities) < tolerance))


def test_chapter_6_grid_check_passes_for_quantiles_and_fails_for_an_even_grid_in_z():
    probabilities = np.linspace(0.05, 0.95, 20)
    quantiles = latent.quantile_grid(num_per_axis=20)[:20, 0]
    assert _share_below_check(quantiles, probabilities)
    even = np.linspace(quantiles[0], quantiles[-1], 20)  # same ends, even steps in z
    assert not _share_below_check(even, probabilities)
    # What the chapter checked before, cdf(ppf(p)) = p, cannot tell a wrong range apart from the
    # right one; the draws can.
    assert not _share_below_check(latent.quantile_grid(20, low=0.02, high=0.98)[:20, 0], probabilities)


def test_chapter_6_square_and_grid_masses_are_what_the_prose_says():
    half_width = stats.norm.ppf(0.975)
    draws = np.random.default_rng(1).normal(size=(400_000, 2))
    inside = np.mean(np.all(np.abs(draws) < half_width, axis=1))
    assert abs(inside - 0.9025) < 4 * math.sqrt(0.9025 * 0.0975 / len(draws))
    ends = latent.quantile_grid(20)[[0, 19], 0]
    inside_grid = np.mean(np.all((draws > ends[0]) & (draws < ends[1]), axis=1))
    assert abs(inside_grid - 0.81) < 4 * math.sqrt(0.81 * 0.19 / len(draws))


def test_chapter_6_exercise_check_accepts_quantiles_and_rejects_an_even_axis():
    def probabilities(values):
        return np.array([0.5 * (1 + math.erf(value / math.sqrt(2))) for value in values])

    expected = np.linspace(0.05, 0.95, 7)
    assert np.allclose(probabilities(stats.norm.ppf(expected)), expected, atol=1e-9)
    even = np.linspace(stats.norm.ppf(0.05), stats.norm.ppf(0.95), 7)
    assert not np.allclose(probabilities(even), expected, atol=1e-9)


def _neighbour_check(codes, labels, margin=4):
    """Chapter 6's clustering check: nearest-neighbour label agreement above chance."""
    _, nearest = spatial.cKDTree(codes).query(codes, k=2)
    agreement = np.mean(labels[nearest[:, 1]] == labels)
    shares = np.bincount(labels, minlength=10) / len(labels)
    chance = np.sum(shares**2)
    return agreement > chance + margin * np.sqrt(chance * (1 - chance) / len(labels))


def test_chapter_6_neighbour_check_passes_for_clusters_and_fails_for_shuffled_labels():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, size=1000)
    centres = rng.normal(scale=3.0, size=(10, 2))
    codes = centres[labels] + rng.normal(size=(1000, 2))
    assert _neighbour_check(codes, labels)
    assert not _neighbour_check(codes, rng.permutation(labels))


def test_chapter_1_slope_check_tells_the_prior_estimator_at_d_8_from_a_healthy_one():
    """Chapter 1 asserts the naive estimator's error falls with a slope above -0.4 at d = 8. An
    estimator that converged at the Monte Carlo rate, with error proportional to 1/sqrt(S),
    fails it."""
    counts = np.array([10, 100, 1_000, 10_000])
    healthy = 3.0 / np.sqrt(counts)
    assert np.polyfit(np.log(counts), np.log(healthy), 1)[0] < -0.4
    model = toy.LinearGaussian.random(seed=18, data_dim=16, latent_dim=8, noise_std=0.3)
    x, _ = model.sample(1, seed=3)
    exact = model.log_marginal(x).numpy()[0]
    prior = np.zeros((1, 8))
    errors = [
        np.mean([abs(bounds.iwae(lambda z: model.log_joint(x, z), prior, prior, int(s), seed=r).numpy()[0] - exact)
                 for r in range(4)])
        for s in counts
    ]
    assert np.polyfit(np.log(counts), np.log(errors), 1)[0] > -0.4
