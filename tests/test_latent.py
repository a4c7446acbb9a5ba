import numpy as np
import pytest
from scipy import stats

from vae_helpers import latent


def test_quantile_grid_steps_evenly_in_prior_probability():
    grid = latent.quantile_grid(5, low=0.1, high=0.9)
    assert grid.shape == (25, 2) and grid.dtype == np.float32
    # Independent check: the prior CDF of the coordinates is the evenly spaced list asked for.
    np.testing.assert_allclose(stats.norm.cdf(grid[:5, 0]), [0.1, 0.3, 0.5, 0.7, 0.9], atol=1e-6)
    # Row-major with z_2 decreasing down the rows: the top row is the largest z_2.
    assert np.all(grid[:5, 1] == grid[0, 1]) and grid[0, 1] > grid[-1, 1]
    np.testing.assert_allclose(grid[:, 1].reshape(5, 5)[:, 0], -grid[:5, 0], atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"num_per_axis": 1}, {"num_per_axis": 2.5}, {"low": 0.0}, {"low": 0.6, "high": 0.5}])
def test_quantile_grid_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        latent.quantile_grid(**kwargs)


def test_linear_interpolation_is_evenly_spaced_between_the_ends(rng):
    a, b = rng.normal(size=8), rng.normal(size=8)
    path = latent.interpolate(a, b, 5)
    np.testing.assert_allclose(path[0], a, rtol=1e-6)
    np.testing.assert_allclose(path[-1], b, rtol=1e-6)
    np.testing.assert_allclose(np.diff(path, axis=0), np.tile((b - a) / 4, (4, 1)), atol=1e-6)


def test_spherical_interpolation_keeps_the_norm_and_moves_at_constant_angle(rng):
    a, b = rng.normal(size=32), rng.normal(size=32)
    a, b = a / np.linalg.norm(a) * 5.0, b / np.linalg.norm(b) * 6.0
    path = latent.interpolate(a, b, 7, method="spherical").astype(np.float64)
    np.testing.assert_allclose(path[0], a, atol=1e-5)
    np.testing.assert_allclose(path[-1], b, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), np.linspace(5.0, 6.0, 7), rtol=1e-5)
    unit = path / np.linalg.norm(path, axis=1, keepdims=True)
    steps = np.arccos(np.clip(np.sum(unit[1:] * unit[:-1], axis=1), -1, 1))
    np.testing.assert_allclose(steps, steps[0], rtol=1e-3)
    # The straight line's midpoint is shorter: the point of using slerp.
    assert np.linalg.norm(latent.interpolate(a, b, 7)[3]) < 0.9 * np.linalg.norm(path[3])


def test_spherical_interpolation_just_short_of_opposite_is_the_half_circle():
    # 1e-4 rad short of pi the great circle is unique; the midpoint is a quarter turn from each end.
    angle = np.pi - 1e-4
    a, b = np.array([1.0, 0.0]), np.array([np.cos(angle), np.sin(angle)])
    path = latent.interpolate(a, b, 3, "spherical")
    np.testing.assert_allclose(path[1], [np.cos(angle / 2), np.sin(angle / 2)], atol=1e-6)


def test_spherical_interpolation_of_parallel_vectors_is_the_line():
    a = np.array([1.0, 2.0, 2.0])
    np.testing.assert_allclose(latent.interpolate(a, 2 * a, 3, "spherical"), [a, 1.5 * a, 2 * a], rtol=1e-6)


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(3), np.zeros(4)), "one shape"),
        ((np.zeros((2, 3)), np.zeros((2, 3))), "one shape"),
        ((np.ones(3), np.ones(3), 1), "num_steps"),
        ((np.ones(3), np.ones(3), 5, "cubic"), "method"),
        ((np.zeros(3), np.ones(3), 5, "spherical"), "non-zero"),
        # v0.1's slerp went through the origin here: the great circle is not unique.
        ((np.array([1.0, 2.0, 2.0]), np.array([-2.0, -4.0, -4.0]), 5, "spherical"), "opposite directions.*third point"),
        # ...and let NaN through, for either method.
        ((np.array([np.nan, 1.0]), np.ones(2), 5, "linear"), "must be finite"),
        ((np.ones(2), np.array([1.0, np.inf]), 5, "spherical"), "must be finite"),
    ],
)
def test_interpolate_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        latent.interpolate(*args)


# Issue 13: encode checks what it is given.

@pytest.fixture(scope="module")
def untrained():
    from vae_helpers import models

    return models.CVAE(2, seed=0)


def test_encode_refuses_a_batch_size_of_zero(untrained):
    with pytest.raises(ValueError, match="batch_size must be a positive integer; got 0"):
        latent.encode(untrained, np.zeros((4, 28, 28, 1), np.float32), batch_size=0)


def test_encode_refuses_pixels_outside_the_unit_range(untrained):
    with pytest.raises(ValueError, match=r"expected pixel values in \[0, 1\].*Divide by 255"):
        latent.encode(untrained, np.full((4, 28, 28, 1), 200.0, np.float32))
    with pytest.raises(ValueError, match="at least one image"):
        latent.encode_means(untrained, np.zeros((0, 28, 28, 1), np.float32))


def test_encode_reads_uint8_zero_one_images_as_zero_one(untrained):
    x = (np.random.default_rng(0).random((6, 28, 28)) < 0.2).astype(np.uint8)
    means, logvars = latent.encode(untrained, x, batch_size=4)
    # The encoder's own output on the same images as float 0/1: an independent route.
    expected_mean, expected_logvar = untrained.encode(x[..., None].astype(np.float32))
    np.testing.assert_allclose(means, expected_mean, atol=1e-6)
    np.testing.assert_allclose(logvars, expected_logvar, atol=1e-6)
