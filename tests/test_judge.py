"""Chapter 12's judgements by label (`vae_helpers.judge`): each check passes what it should and
fails a perturbed input."""

import numpy as np
import pytest
from scipy import stats

from vae_helpers import judge


def test_samples_named_as_asked_clear_the_shuffled_baseline():
    asked = np.repeat(np.arange(10), 100)
    found = judge.share_as_asked(asked.copy(), asked)
    assert found["share"] == 1.0 and found["share_error"] == 0.0 and found["above"]
    assert abs(found["shuffled"] - 0.1) < 0.05  # a shuffle of balanced labels: about 1 in 10


def test_a_sampler_that_ignores_its_label_does_not():
    rng = np.random.default_rng(0)
    asked = np.repeat(np.arange(10), 100)
    # The judge names a digit unrelated to the one asked for; and a judge that always says 1.
    for named in (rng.integers(0, 10, len(asked)), np.ones(len(asked), int)):
        found = judge.share_as_asked(named, asked)
        assert not found["above"], found
        assert abs(found["share"] - found["shuffled"]) < 0.06


def test_the_share_and_its_error_are_binomial():
    asked = np.repeat(np.arange(10), 50)
    named = asked.copy()
    named[::4] = (named[::4] + 1) % 10  # a quarter named wrongly
    found = judge.share_as_asked(named, asked)
    assert found["share"] == pytest.approx(0.75)
    assert found["share_error"] == pytest.approx(np.sqrt(0.75 * 0.25 / 500))


def test_bad_labels_are_refused():
    with pytest.raises(ValueError, match="one entry per image"):
        judge.share_as_asked(np.zeros(5, int), np.zeros(6, int))
    with pytest.raises(ValueError, match="digits 0-9"):
        judge.share_as_asked(np.full(5, 12), np.zeros(5, int))


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
