"""Walking the latent space of a trained model: quantile grids, interpolation, encoding a test set."""

import math

import numpy as np
from scipy import stats

from vae_helpers import config, data

INTERPOLATIONS = ("linear", "spherical")

ANTIPODAL_ANGLE = 1e-6
"""Spherical interpolation refuses endpoints whose angle is within this of pi (radians): the
great circle through opposite points is not unique, and slerp's sin(angle) goes to 0."""


def quantile_grid(num_per_axis=20, low=0.05, high=0.95):
    """z points whose coordinates are evenly spaced *quantiles* of N(0, 1), as in Kingma & Welling.

    Equal steps in probability, not in z: the grid covers where the prior puts its mass, and each
    cell holds the same prior probability.

    Returns:
      float32 array of shape (num_per_axis**2, 2); row r * num_per_axis + c has z_1 from column c
      and z_2 from row r, with z_2 decreasing down the rows (so a picture has z_2 pointing up).
    """
    num_per_axis = config.positive_int("num_per_axis", num_per_axis, minimum=2)
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"need 0 < low < high < 1 (they are probabilities); got low={low!r}, high={high!r}.")
    values = stats.norm.ppf(np.linspace(low, high, num_per_axis))
    z1, z2 = np.meshgrid(values, values[::-1])
    return np.stack([z1.ravel(), z2.ravel()], axis=1).astype(np.float32)


def midpoint_grid(low, high, num_per_axis):
    """Cell centres of a num_per_axis x num_per_axis grid over the box [low_1, high_1] x
    [low_2, high_2] of a 2-D latent space, for integrals by the midpoint rule.

    Args:
      low, high: (2,) arrays (or numbers, for a square), the box's corners.
      num_per_axis: positive int, cells per axis.
    Returns:
      z (num_per_axis^2, 2), row-major (the first coordinate varies fastest), and the widths
      (2,) of a cell along each axis.
    """
    num_per_axis = config.positive_int("num_per_axis", num_per_axis)
    low, high = (np.broadcast_to(np.asarray(v, np.float64), (2,)) for v in (low, high))
    widths = (high - low) / num_per_axis
    axes = [(np.arange(num_per_axis) + 0.5) * w + l for l, w in zip(low, widths)]
    first, second = np.meshgrid(*axes)
    return np.stack([first.ravel(), second.ravel()], axis=1), widths


def interpolate(z_start, z_end, num_steps=10, method="linear"):
    """Points from `z_start` to `z_end`, both included.

    Args:
      z_start, z_end: arrays of shape (latent_dim,).
      method: "linear" (straight line) or "spherical" (slerp: along the great circle, with the
        norm interpolated too). In high dimensions prior draws have norm close to sqrt(latent_dim);
        the midpoint of a straight line between two of them is shorter, a region the prior (and
        so the decoder) rarely saw. Spherical interpolation keeps the norm typical; it needs two
        non-zero endpoints that do not point in opposite directions.
    Returns:
      float32 array of shape (num_steps, latent_dim).
    """
    z_start, z_end = np.asarray(z_start, np.float64), np.asarray(z_end, np.float64)
    if z_start.ndim != 1 or z_start.shape != z_end.shape:
        raise ValueError(
            f"z_start and z_end must be vectors of one shape (latent_dim,); got {z_start.shape} and {z_end.shape}."
        )
    if not (np.all(np.isfinite(z_start)) and np.all(np.isfinite(z_end))):
        raise ValueError(
            "z_start and z_end must be finite; got NaN or infinite coordinates: check the encoder's "
            "means they came from."
        )
    if method not in INTERPOLATIONS:
        raise ValueError(f"method must be one of {INTERPOLATIONS}; got {method!r}.")
    num_steps = config.positive_int("num_steps", num_steps, minimum=2)
    t = np.linspace(0.0, 1.0, num_steps)[:, None]
    if method == "linear":
        return ((1 - t) * z_start + t * z_end).astype(np.float32)
    norm_start, norm_end = np.linalg.norm(z_start), np.linalg.norm(z_end)
    if norm_start == 0 or norm_end == 0:
        raise ValueError("spherical interpolation needs two non-zero vectors; use method='linear'.")
    unit_start, unit_end = z_start / norm_start, z_end / norm_end
    angle = np.arccos(np.clip(unit_start @ unit_end, -1.0, 1.0))
    if angle > math.pi - ANTIPODAL_ANGLE:
        raise ValueError(
            f"z_start and z_end point in opposite directions (angle {angle:.6f} rad, pi = {math.pi:.6f}): "
            "every great circle through them is a shortest path, so the spherical path is not "
            "unique. Interpolate through a third point in two calls, e.g. "
            "interpolate(z_start, z_mid, ...) then interpolate(z_mid, z_end, ...), or use method='linear'."
        )
    if angle < 1e-6:  # the same direction: slerp's formula divides by sin(angle)
        direction = (1 - t) * unit_start + t * unit_end
    else:
        direction = (np.sin((1 - t) * angle) * unit_start + np.sin(t * angle) * unit_end) / np.sin(angle)
    return (direction * ((1 - t) * norm_start + t * norm_end)).astype(np.float32)


def encode(model, images, batch_size=256):
    """The mean and log-variance of q(z|x) for each image, batched so a whole test set fits in memory.

    Args:
      model: a `CVAE`.
      images: (N, 28, 28, 1) images with values in [0, 1], 0/1 as the model was trained on
        (checked and converted by `vae_helpers.data.to_unit_images`).
      batch_size: positive int, images encoded at once.
    Returns:
      (means, logvars), float32 arrays of shape (N, latent_dim) each.
    """
    images = data.to_unit_images(images)
    batch_size = config.positive_int("batch_size", batch_size)
    batches = [model.encode(images[i : i + batch_size]) for i in range(0, len(images), batch_size)]
    return tuple(np.concatenate([np.asarray(batch[j]) for batch in batches], axis=0) for j in (0, 1))


def encode_means(model, images, batch_size=256):
    """The mean of q(z|x) for each image (see `encode`): float32 (N, latent_dim)."""
    return encode(model, images, batch_size)[0]
