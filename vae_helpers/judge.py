"""Judging by labels (chapter 12): how often an independent classifier names a sample as the digit
asked for, against chance, and an interval over training seeds."""

import numpy as np
from scipy import stats

from vae_helpers import config, data


def share_as_asked(named, asked, seed=config.SEED, num_errors=4.0):
    """How often samples were named as the label asked for, beside a shuffled baseline.

    The baseline pairs the same names with the asked labels shuffled: what a sampler that
    ignored its label would score against the same judge (the judge's own bias towards some
    digits included).

    Args:
      named: (N,) ints 0-9, the judge's label of each sample.
      asked: (N,) ints 0-9, the label each sample was drawn for.
      seed: seeds the shuffle.
      num_errors: how many standard errors the share must clear the baseline by.
    Returns:
      {"share": float, "share_error": its binomial standard error, "shuffled": the baseline's
      share, "above": whether share - shuffled > num_errors standard errors of the difference
      (the two binomial errors combined, the baseline's at its largest, 1/2)}.
    """
    asked = data.check_labels(asked)
    named = data.check_labels(named, len(asked))
    if len(asked) < 2:
        raise ValueError(f"share_as_asked needs at least 2 samples for an error; got {len(asked)}.")
    share = float(np.mean(named == asked))
    error = float(np.sqrt(share * (1 - share) / len(asked)))
    shuffled = float(np.mean(named == np.random.default_rng(seed).permutation(asked)))
    margin = num_errors * np.hypot(error, 0.5 / np.sqrt(len(asked)))
    return {"share": share, "share_error": error, "shuffled": shuffled,
            "above": bool(share - shuffled > margin)}


def seed_interval(values, level=0.95):
    """A Student-t interval for the mean of one number per training seed.

    Args:
      values: (S,) finite numbers, S >= 2 seeds.
      level: the interval's coverage, in (0, 1).
    Returns:
      (mean, low, high), floats.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 1 or len(values) < 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"seed_interval needs at least 2 finite values in a 1-D array; got {values!r}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, e.g. 0.95; got {level!r}.")
    half = stats.t.ppf((1 + level) / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return float(values.mean()), float(values.mean() - half), float(values.mean() + half)
