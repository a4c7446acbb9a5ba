import numpy as np
import pytest

from vae_helpers import config


@pytest.mark.parametrize("value, quick", [("1", True), ("true", True), ("YES", True), ("0", False), ("", False), ("off", False)])
def test_is_quick_reads_the_environment(monkeypatch, value, quick):
    monkeypatch.setenv("VAE_QUICK", value)
    assert config.is_quick() is quick
    assert config.pick(full=50, quick=2) == (2 if quick else 50)
    assert config.mode_name() == ("quick mode" if quick else "full mode")


def test_unset_is_full_mode(monkeypatch):
    monkeypatch.delenv("VAE_QUICK", raising=False)
    assert config.pick(full=7, quick=1) == 7


def test_unknown_quick_value_names_the_fix(monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "maybe")
    with pytest.raises(ValueError, match="VAE_QUICK=1"):
        config.is_quick()


@pytest.mark.parametrize("full, quick", [(0, 1), (5, -1), (2.5, 1), (True, 1), ("10", 1)])
def test_pick_rejects_non_counts(full, quick):
    with pytest.raises(ValueError, match="positive integer"):
        config.pick(full=full, quick=quick)


def test_set_seeds_makes_numpy_and_tensorflow_repeat():
    import tensorflow as tf

    config.set_seeds(3)
    first = (np.random.rand(3), tf.random.normal((3,)).numpy())
    config.set_seeds(3)
    second = (np.random.rand(3), tf.random.normal((3,)).numpy())
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    config.set_seeds(4)
    assert not np.array_equal(first[0], np.random.rand(3))


@pytest.mark.parametrize("seed", [-1, 1.5, "42", None])
def test_set_seeds_rejects_bad_seeds(seed):
    with pytest.raises(ValueError, match="seed"):
        config.set_seeds(seed)


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "4", None])
def test_positive_int_refuses_what_is_not_a_positive_integer(value):
    with pytest.raises(ValueError, match="count must be a positive integer"):
        config.positive_int("count", value)


def test_positive_int_returns_a_python_int():
    value = config.positive_int("count", np.int64(7))
    assert value == 7 and type(value) is int


@pytest.mark.parametrize("value", [1, 0, 2.0, True])
def test_positive_int_with_a_minimum_names_it(value):
    with pytest.raises(ValueError, match=r"num_steps must be an integer of at least 2; got"):
        config.positive_int("num_steps", value, minimum=2)
    assert config.positive_int("num_steps", 2, minimum=2) == 2
