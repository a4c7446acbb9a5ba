"""The aggregate posterior: its density against scipy, the rate decomposition against closed forms
and against a quadrature that shares none of its sampling."""

import math

import numpy as np
import pytest
from scipy import stats

from vae_helpers import aggregate


def _components(num, latent_dim=2, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=scale, size=(num, latent_dim))
    logvars = rng.uniform(np.log(0.05), np.log(0.6), size=(num, latent_dim))
    return means, logvars


def test_log_density_is_the_mixture_of_scipy_normals():
    means, logvars = _components(7, latent_dim=3)
    z = np.random.default_rng(1).normal(size=(11, 3))
    mixture = np.mean([
        stats.multivariate_normal(m, np.diag(np.exp(v))).pdf(z) for m, v in zip(means, logvars)
    ], axis=0)
    np.testing.assert_allclose(aggregate.log_density(z, means, logvars), np.log(mixture), rtol=1e-10)


def test_log_density_in_chunks_equals_one_pass(monkeypatch):
    means, logvars = _components(50)
    z = np.random.default_rng(2).normal(size=(33, 2))
    whole = aggregate.log_density(z, means, logvars)
    monkeypatch.setattr(aggregate, "ENTRIES_PER_CHUNK", 120)  # 2 points per chunk
    np.testing.assert_allclose(aggregate.log_density(z, means, logvars), whole, rtol=1e-12)


def test_log_prior_is_scipys_standard_normal():
    z = np.random.default_rng(3).normal(size=(5, 4))
    np.testing.assert_allclose(aggregate.log_prior(z), stats.multivariate_normal(np.zeros(4)).logpdf(z), rtol=1e-12)


def test_samples_have_the_mixtures_mean_and_variance():
    means, logvars = _components(3, latent_dim=1)
    z, component = aggregate.sample(means, logvars, 200_000, seed=5)
    mean = means.mean()
    variance = np.mean(np.exp(logvars) + means**2) - mean**2
    assert z.mean() == pytest.approx(mean, abs=4 * math.sqrt(variance / len(z)))
    assert z.var() == pytest.approx(variance, rel=0.02)
    assert set(np.unique(component)) == {0, 1, 2}


def test_one_component_carries_no_information_and_its_kl_is_the_rate():
    # q(z) = q(z|x): I(x; z) = 0 exactly, and KL(q(z) || p(z)) is the closed-form KL.
    means, logvars = np.array([[0.7, -1.2]]), np.log(np.array([[0.3, 2.0]]))
    result = aggregate.rate_decomposition(means, logvars, 40_000)
    closed_form = 0.5 * np.sum(np.exp(logvars) + means**2 - 1 - logvars)
    assert result["rate"] == pytest.approx(closed_form, rel=1e-12)
    assert result["mutual_information"] == pytest.approx(0.0, abs=1e-9)
    assert result["kl_aggregate"] == pytest.approx(closed_form, abs=4 * result["kl_aggregate_se"])


def test_far_apart_narrow_components_carry_log_n_nats():
    # Codes that never overlap identify their image: I(x; z) = log N.
    means = np.array([[-30.0, 0.0], [0.0, 0.0], [30.0, 0.0], [0.0, 30.0]])
    logvars = np.full_like(means, np.log(1e-4))
    result = aggregate.rate_decomposition(means, logvars, 20_000)
    assert result["mutual_information"] == pytest.approx(math.log(4), abs=1e-6)
    assert result["log_n"] == pytest.approx(math.log(4))


def test_the_two_terms_add_up_to_the_rate_and_the_grid_agrees_on_the_kl():
    means, logvars = _components(40)
    result = aggregate.rate_decomposition(means, logvars, 100_000, seed=1)
    grid_kl, mass = aggregate.grid_kl(means, logvars, -9.0, 9.0, 500)
    assert mass == pytest.approx(1.0, abs=1e-6)
    assert grid_kl == pytest.approx(result["kl_aggregate"], abs=4 * result["kl_aggregate_se"])
    # Independent estimates of the two terms: Monte Carlo I, quadrature KL.
    total_se = result["mutual_information_se"]
    assert result["mutual_information"] + grid_kl == pytest.approx(result["rate"], abs=4 * total_se + 1e-3)
    assert 0.0 < result["mutual_information"] < result["log_n"]


def test_grid_midpoints_and_cell_area():
    z, cell = aggregate.grid(-1.0, 1.0, 4)
    assert cell == pytest.approx(0.25)
    np.testing.assert_allclose(z[:4, 0], [-0.75, -0.25, 0.25, 0.75])
    np.testing.assert_allclose(z[::4, 1], [-0.75, -0.25, 0.25, 0.75])


def test_density_ratio_is_below_zero_in_a_hole():
    # Two components at +-2: the origin is a hole (prior density high, q tiny).
    means, logvars = np.array([[-2.0, 0.0], [2.0, 0.0]]), np.log(np.full((2, 2), 0.05))
    ratio = aggregate.density_ratio(np.array([[0.0, 0.0], [2.0, 0.0]]), means, logvars)
    assert ratio[0] < -10 and ratio[1] > 0


def test_bad_shapes_name_the_fix():
    with pytest.raises(ValueError, match=r"shape \(N, latent_dim\)"):
        aggregate.log_density(np.zeros((2, 2)), np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"z must have shape \(M, 2\)"):
        aggregate.log_density(np.zeros((2, 3)), np.zeros((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="2-D latent space"):
        aggregate.grid_kl(np.zeros((3, 4)), np.zeros((3, 4)), -1.0, 1.0, 10)


@pytest.mark.parametrize("where", ["means", "logvars", "z"])
def test_nan_components_or_points_are_refused_not_passed_through(where):
    means, logvars = _components(4)
    z = np.zeros((3, 2))
    {"means": means, "logvars": logvars, "z": z}[where][1, 0] = np.nan
    with pytest.raises(ValueError, match=f"{where} holds 1 NaN or infinite"):
        aggregate.log_density(z, means, logvars)
    with pytest.raises(ValueError, match=f"{where} holds 1 NaN or infinite"):
        aggregate.density_ratio(z, means, logvars)
    if where != "z":
        with pytest.raises(ValueError, match=f"{where} holds 1 NaN or infinite"):
            aggregate.rate_decomposition(means, logvars, 10)


def test_the_prior_and_the_gaussians_refuse_nan_points():
    with pytest.raises(ValueError, match="z holds 1 NaN"):
        aggregate.log_prior(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="means holds 1 NaN"):
        aggregate.log_gaussians(np.zeros((1, 2)), np.array([[np.nan, 0.0]]), np.zeros((1, 2)))


def test_rate_decomposition_needs_two_draws_for_its_standard_errors():
    means, logvars = _components(4)
    with pytest.raises(ValueError, match="num_samples must be an integer of at least 2; got 1"):
        aggregate.rate_decomposition(means, logvars, 1)
    assert np.isfinite(aggregate.rate_decomposition(means, logvars, 2)["mutual_information_se"])


@pytest.mark.parametrize("low, high", [(np.nan, 1.0), (-1.0, np.inf)])
def test_grid_refuses_bounds_that_are_not_finite(low, high):
    with pytest.raises(ValueError, match="finite low < high"):
        aggregate.grid(low, high, 4)


def test_information_from_responsibilities_agrees_with_the_rate_decomposition():
    means, logvars = _components(40, scale=1.0)
    split = aggregate.rate_decomposition(means, logvars, 40_000)
    information, error = aggregate.information_from_responsibilities(means, logvars, 40_000)
    assert abs(information - split["mutual_information"]) < 4 * math.hypot(error, split["mutual_information_se"])


def test_information_from_responsibilities_in_the_two_limits():
    # One component: z names nothing. Far apart narrow ones: z names its image, I = log N.
    means, logvars = _components(1)
    assert aggregate.information_from_responsibilities(means, logvars, 100)[0] == pytest.approx(0.0, abs=1e-12)
    means = 100.0 * np.arange(5, dtype=np.float64)[:, None] * np.ones((1, 2))
    information, _ = aggregate.information_from_responsibilities(means, np.full((5, 2), -4.0), 100)
    assert information == pytest.approx(math.log(5), abs=1e-9)
