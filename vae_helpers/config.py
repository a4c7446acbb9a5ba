"""Quick mode and seeds: the two settings every chapter reads.

Quick mode (`VAE_QUICK=1`) shrinks epoch and sample counts so that CI can execute every notebook in
minutes. It changes nothing else: the same model, the same data, the same code paths.
"""

import os
import random

import numpy as np

SEED = 42
"""The one seed the whole book starts from."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


def is_quick():
    """Whether `VAE_QUICK` asks for quick mode (read on every call, so tests can change it)."""
    value = os.environ.get("VAE_QUICK", "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"VAE_QUICK={os.environ['VAE_QUICK']!r} is not understood: "
        "set VAE_QUICK=1 for quick mode, or VAE_QUICK=0 (or leave it unset) for full mode."
    )


def is_integer(value, minimum):
    """Whether `value` is a Python or NumPy integer of at least `minimum` (a bool is not)."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= minimum


def positive_int(name, value, minimum=1):
    """`value` as an int, or a ValueError naming `name` if it is not an integer of at least
    `minimum` (bools refused)."""
    if not is_integer(value, minimum):
        wanted = "a positive integer" if minimum == 1 else f"an integer of at least {minimum}"
        raise ValueError(f"{name} must be {wanted}; got {value!r}.")
    return int(value)


def positive_number(name, value, maximum=None):
    """`value` as a float, or a ValueError naming `name` unless it is a finite number above 0
    (and at most `maximum`, if one is given)."""
    if (isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be a positive finite number of at most {maximum:g}; got {value!r}.")
    return float(value)


def pick(full, quick):
    """Returns `quick` in quick mode, else `full`: use it for epoch and sample counts only."""
    for name, value in (("full", full), ("quick", quick)):
        if not is_integer(value, 1):
            raise ValueError(f"pick() takes positive integer counts; got {name}={value!r}.")
    return quick if is_quick() else full


def mode_name():
    """'quick mode' or 'full mode', for the line each chapter prints."""
    return "quick mode" if is_quick() else "full mode"


def set_seeds(seed=SEED):
    """Seeds Python, NumPy and TensorFlow (through Keras) so a chapter reruns identically."""
    if not is_integer(seed, 0):
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}.")
    random.seed(seed)
    np.random.seed(seed)
    # Imported here so that `config` stays importable without loading TensorFlow.
    import keras

    keras.utils.set_random_seed(int(seed))
