"""Issue 13's bad inputs at the scoring end: images a user would expect to work are scored, and
images that cannot be scored are refused with the fix, not turned into a wrong number."""

import numpy as np
import pytest

from vae_helpers import evaluation, models


@pytest.fixture(scope="module")
def model():
    return models.CVAE(2, seed=0)


def test_iwae_scores_uint8_zero_one_images_as_the_binary_images_they_are(model):
    x = (np.random.default_rng(0).random((4, 28, 28)) < 0.2).astype(np.uint8)
    # v0.1.0 divided them by 255, then said they "have grey levels".
    got = evaluation.iwae(model, x, k=3, seed=1)
    expected = evaluation.iwae(model, x[..., None].astype(np.float32), k=3, seed=1)
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.isfinite(got))


@pytest.mark.parametrize(
    "score",
    [
        lambda model, x: evaluation.iwae(model, x, k=2),
        lambda model, x: evaluation.grid_log_marginal(model, x, num_per_axis=5, outer_per_axis=5),
        evaluation.kl_per_dimension,
        evaluation.posterior_mean_variance,
        evaluation.active_units,
    ],
    ids=["iwae", "grid_log_marginal", "kl_per_dimension", "posterior_mean_variance", "active_units"],
)
def test_scores_refuse_what_they_cannot_score_and_say_how_to_fix_it(model, score):
    with pytest.raises(ValueError, match=r"expected pixel values in \[0, 1\].*Divide by 255"):
        score(model, np.full((2, 28, 28, 1), 255.0, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        score(model, np.full((2, 28, 28, 1), np.nan, np.float32))
    with pytest.raises(ValueError, match="at least one image"):
        score(model, np.zeros((0, 28, 28, 1), np.float32))
    with pytest.raises(ValueError, match="grey levels.*binarize_once"):
        score(model, np.full((2, 28, 28, 1), 0.5, np.float32))
