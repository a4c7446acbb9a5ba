"""Judging by labels (chapter 12): how often an independent classifier names a sample as the digit
asked for, beside chance, and an interval over training seeds."""

import numpy as np
from scipy import stats

from vae_helpers import data


def share_as_asked(named, asked, groups=None):
    """How often samples were named as the label asked for, beside chance.

    Chance is the agreement of a judge that named labels with its own frequencies, independently
    of the labels asked for: sum_d P(asked = d) P(named = d) (exactly 1/10 when every digit is
    asked for equally often, whatever the judge's bias).

    Args:
      named: (N,) ints 0-9, the judge's label of each sample.
      asked: (N,) ints 0-9, the label each sample was drawn for.
      groups: None, or (N,) ints: samples that share a group (say, decodes of one code) are not
        independent, so the standard error is then the groups' (the spread of each group's
        share, over the groups), not the binomial one.
    Returns:
      {"share": float, "share_error": its standard error, "chance": float}.
    """
    asked = data.check_labels(asked)
    named = data.check_labels(named, len(asked))
    right = (named == asked).astype(np.float64)
    if groups is None:
        if len(asked) < 2:
            raise ValueError(f"share_as_asked needs at least 2 samples for an error; got {len(asked)}.")
        error = float(np.sqrt(right.mean() * (1 - right.mean()) / len(right)))
    else:
        groups = np.asarray(groups)
        if groups.shape != asked.shape:
            raise ValueError(f"groups must give one group per sample, shape {asked.shape}; got {groups.shape}.")
        names = np.unique(groups)
        if len(names) < 2:
            raise ValueError("share_as_asked needs at least 2 groups for an error; got 1.")
        shares = np.array([right[groups == name].mean() for name in names])
        error = float(shares.std(ddof=1) / np.sqrt(len(shares)))
    counts = np.bincount(asked, minlength=data.NUM_CLASSES) / len(asked)
    chance = float(np.sum(counts * np.bincount(named, minlength=data.NUM_CLASSES) / len(named)))
    return {"share": float(right.mean()), "share_error": error, "chance": chance}


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
