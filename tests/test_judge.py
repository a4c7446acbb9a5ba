"""Chapter 12's judgements by label (`vae_helpers.judge`): each check passes what it should and
fails a perturbed input."""

import numpy as np
import pytest
from scipy import stats

from vae_helpers import judge


def test_samples_named_as_asked_score_one_and_chance_is_a_tenth():
    asked = np.repeat(np.arange(10), 100)
    found = judge.share_as_asked(asked.copy(), asked)
    assert found["share"] == 1.0 and found["share_error"] == 0.0
    assert found["chance"] == pytest.approx(0.1)


def test_a_judge_that_ignores_the_samples_scores_chance():
    rng = np.random.default_rng(0)
    asked = np.repeat(np.arange(10), 1000)
    # A judge that names digits at random, and one that always says 1.
    for named in (rng.integers(0, 10, len(asked)), np.ones(len(asked), int)):
        found = judge.share_as_asked(named, asked)
        assert abs(found["share"] - found["chance"]) < 4 * max(found["share_error"], 1e-3), found
    # Chance follows the judge's and the request's frequencies: asked 1 half the time, named 1
    # always, chance is a half.
    lopsided = judge.share_as_asked(np.ones(10, int), np.array([1] * 5 + [2] * 5))
    assert lopsided["chance"] == pytest.approx(0.5) and lopsided["share"] == pytest.approx(0.5)


def test_the_share_and_its_error_are_binomial_or_by_group():
    asked = np.repeat(np.arange(10), 50)
    named = asked.copy()
    named[::4] = (named[::4] + 1) % 10  # a quarter named wrongly
    found = judge.share_as_asked(named, asked)
    assert found["share"] == pytest.approx(0.75)
    assert found["share_error"] == pytest.approx(np.sqrt(0.75 * 0.25 / 500))
    # Ten decodes of each of 50 codes, all right or all wrong by code: 50 independent samples,
    # not 500, and the error by group is the spread of the 50 codes' shares.
    asked = np.tile(np.arange(10), 50)
    codes = np.repeat(np.arange(50), 10)
    named = np.where(codes % 4 == 0, (asked + 1) % 10, asked)
    grouped = judge.share_as_asked(named, asked, groups=codes)
    per_code = (codes[::10] % 4 != 0).astype(float)
    assert grouped["share"] == pytest.approx(per_code.mean())
    assert grouped["share_error"] == pytest.approx(per_code.std(ddof=1) / np.sqrt(50))
    assert grouped["share_error"] > 2 * judge.share_as_asked(named, asked)["share_error"]


def test_bad_labels_and_groups_are_refused():
    with pytest.raises(ValueError, match="one entry per image"):
        judge.share_as_asked(np.zeros(5, int), np.zeros(6, int))
    with pytest.raises(ValueError, match="digits 0-9"):
        judge.share_as_asked(np.full(5, 12), np.zeros(5, int))
    with pytest.raises(ValueError, match="one group per sample"):
        judge.share_as_asked(np.zeros(5, int), np.zeros(5, int), groups=np.zeros(4))
    with pytest.raises(ValueError, match="at least 2 groups"):
        judge.share_as_asked(np.zeros(5, int), np.zeros(5, int), groups=np.zeros(5))


def test_the_seed_interval_is_students_t():
    mean, low, high = judge.seed_interval([1.0, 2.0, 3.0])
    # sd 1, 2 degrees of freedom: t_{0.975, 2} = 4.3027.
    assert mean == 2.0 and high - mean == pytest.approx(4.302653 / np.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    values = np.random.default_rng(1).normal(size=8)
    expected = stats.t.interval(0.9, 7, loc=values.mean(), scale=stats.sem(values))
    assert judge.seed_interval(values, 0.9)[1:] == pytest.approx(expected)
    for bad in ([1.0], [1.0, np.nan], [[1.0, 2.0]]):
        with pytest.raises(ValueError, match="at least 2 finite"):
            judge.seed_interval(bad)
    with pytest.raises(ValueError, match="level"):
        judge.seed_interval([1.0, 2.0], level=95)
