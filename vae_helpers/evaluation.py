"""Scoring a trained `CVAE` the way papers do: bounds on log p(x) in nats per image, and what the
latent dimensions are used for.

`iwae` here is chapter 2's estimator (`vae_helpers.bounds.iwae`) given the CVAE's log p(x, z);
there is one implementation of the bound in the book.
"""

import math

import keras
import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

from vae_helpers import bounds, config, data, latent, losses

ACTIVE_UNIT_THRESHOLD = 1e-2
"""Burda et al. (2015): a latent unit is active if the variance over x of its posterior mean exceeds this."""

DECODES_PER_CALL = 20_000
"""Images decoded at once when a bound needs many samples: k * batch capped so memory stays small."""


def log_joint_of(model, x):
    """The function z -> log p(x, z) = log p(x|z) + log p(z) for fixed images x.

    Args:
      model: a `CVAE`.
      x: float32 (batch, 28, 28, 1), 0/1 pixels.
    Returns:
      A function mapping z (num_samples, batch, latent_dim) to (num_samples, batch), in nats, as
      `vae_helpers.bounds` expects.
    """
    x = tf.convert_to_tensor(x, tf.float32)

    def log_joint(z):
        num_samples, batch = tf.shape(z)[0], tf.shape(z)[1]
        logits = model.decode(tf.reshape(z, (-1, model.latent_dim)))  # (num_samples * batch, 28, 28, 1)
        # Row s * batch + b of the flattened z belongs to image b, so x repeats num_samples times.
        log_likelihood = losses.bernoulli_log_likelihood(tf.tile(x, [num_samples, 1, 1, 1]), logits)
        return tf.reshape(log_likelihood, (num_samples, batch)) + losses.log_normal_pdf(z, 0.0, 0.0, raxis=-1)

    return log_joint


def iwae(model, images, k, batch_size=100, seed=config.SEED):
    """IWAE_k of each image, a lower bound on log p(x) that tightens as k grows (Burda et al., 2015).

    Args:
      model: a `CVAE`.
      images: (N, 28, 28, 1) 0/1 images (see `vae_helpers.data.binarize_once`).
      k: positive int, importance samples per image; k = 1 is the single-sample ELBO.
      batch_size: images encoded at once; samples are drawn in chunks of at most
        `DECODES_PER_CALL // batch_size`, so k = 5,000 needs no more memory than k = 100.
      seed: seeds the samples, so a score repeats exactly.
    Returns:
      float64 array of shape (N,), nats.
    """
    images = _check_images(images)
    batch_size = config.positive_int("batch_size", batch_size)
    generator = keras.random.SeedGenerator(seed)
    chunk_size = max(1, DECODES_PER_CALL // batch_size)
    scores = []
    for start in range(0, len(images), batch_size):
        x = images[start : start + batch_size]
        mean, logvar = model.encode(x)
        scores.append(bounds.iwae(log_joint_of(model, x), mean, logvar, k, seed=generator, chunk_size=chunk_size))
    return np.concatenate([np.asarray(score, np.float64) for score in scores])


def summarize(scores):
    """Mean and standard error of per-image scores: (mean, standard error), floats."""
    scores = np.asarray(scores, np.float64)
    return float(scores.mean()), float(scores.std(ddof=1) / math.sqrt(len(scores)))


def grid_log_marginal(model, images, num_per_axis=101, box_stds=8.0, limit=6.0, outer_per_axis=61):
    """log p(x) of a model with a 2-dimensional latent space, by quadrature on grids.

    A trained posterior is narrow (a standard deviation of a few hundredths), far narrower than
    the cells of any affordable grid over the whole prior. So the integral of p(x|z) p(z) is split:
    a fine midpoint grid of num_per_axis^2 cells over the box mean +- box_stds standard deviations
    of q(z|x) (widened to whole cells of the coarse grid), where the integrand's mass is, plus a
    coarse grid over [-limit, limit]^2 outside that box, whose cells that hold non-negligible mass
    (a mode q missed; at most the 64 heaviest) are integrated again on fine grids of their own. The coarse grid's error
    elsewhere is set by the integrand at the box's edges, negligible at 8 standard deviations.
    Compare two values of `num_per_axis` before trusting the number (chapter 7 does).

    Args:
      model: a `CVAE` with latent_dim = 2.
      images: (N, 28, 28, 1) 0/1 images.
    Returns:
      float64 array of shape (N,), nats.
    """
    if model.latent_dim != 2:
        raise ValueError(f"grid quadrature needs latent_dim = 2 (a grid grows exponentially); got {model.latent_dim}. Use iwae.")
    images = _check_images(images)
    means, logvars = (np.asarray(t, np.float64) for t in model.encode(images))
    outer_z, outer_log_cell = _midpoint_grid(-limit * np.ones(2), limit * np.ones(2), outer_per_axis)
    step = 2 * limit / outer_per_axis
    results = []
    for image, mean, logvar in zip(images, means, logvars):
        half = box_stds * np.exp(logvar / 2)
        # Snap the box outwards to the coarse grid's cell edges, so the two grids tile the plane
        # with no overlap and no gap.
        low = -limit + np.floor((mean - half + limit) / step) * step
        high = -limit + np.ceil((mean + half + limit) / step) * step
        inner_z, inner_log_cell = _midpoint_grid(low, high, num_per_axis)
        outside = ~np.all((outer_z > low) & (outer_z < high), axis=1)
        inner = logsumexp(_log_terms(model, image, inner_z, inner_log_cell))
        coarse_z = outer_z[outside]
        coarse = _log_terms(model, image, coarse_z, outer_log_cell)
        # A second, narrow mode that q missed can fall between coarse grid points: every coarse
        # cell within REFINE_NATS of the total is integrated again on a fine grid of its own.
        total = np.logaddexp(inner, logsumexp(coarse))
        candidates = np.flatnonzero(coarse > total - REFINE_NATS)
        # Where many cells matter the integrand is broad and the coarse grid already resolves it.
        for index in candidates[np.argsort(coarse[candidates])[::-1][:MAX_REFINED_CELLS]]:
            cell_z, cell_log = _midpoint_grid(coarse_z[index] - step / 2, coarse_z[index] + step / 2, REFINE_PER_AXIS)
            coarse[index] = logsumexp(_log_terms(model, image, cell_z, cell_log))
        results.append(np.logaddexp(inner, logsumexp(coarse)))
    return np.array(results)


REFINE_NATS = 20.0
REFINE_PER_AXIS = 16
MAX_REFINED_CELLS = 64


def _midpoint_grid(low, high, num_per_axis):
    """Cell centres (num_per_axis^2, 2) of a grid over the box [low, high], and log of a cell's area."""
    axes = [(np.arange(num_per_axis) + 0.5) / num_per_axis * (h - l) + l for l, h in zip(low, high)]
    z = np.stack(np.meshgrid(*axes), axis=-1).reshape(-1, 2)
    return z, float(np.sum(np.log((np.asarray(high) - np.asarray(low)) / num_per_axis)))


def _log_terms(model, image, z, log_cell):
    """log of p(x|z) p(z) times the cell area, for cells centred at z (cells, 2) -> (cells,)."""
    if len(z) == 0:
        return np.zeros(0)
    z = z.astype(np.float32)
    log_likelihood = np.concatenate([
        np.asarray(losses.bernoulli_log_likelihood(np.broadcast_to(image, (len(chunk), 28, 28, 1)), model.decode(chunk)), np.float64)
        for chunk in np.array_split(z, len(z) // DECODES_PER_CALL + 1)
    ])
    return log_likelihood + np.asarray(losses.log_normal_pdf(z, 0.0, 0.0), np.float64) + log_cell


def kl_per_dimension(model, images, batch_size=500):
    """The analytic KL(q(z_j|x) || N(0, 1)) of each latent dimension j, averaged over images.

    Returns:
      float64 array of shape (latent_dim,), nats; they sum to the mean analytic KL.
    """
    means, logvars = latent.encode(model, _check_images(images), batch_size)
    return np.asarray(losses.analytic_kl_per_dimension(means, logvars), np.float64).mean(axis=0)


def posterior_mean_variance(model, images, batch_size=500):
    """The variance over images of each dimension's posterior mean, Cov_x(E_q[z_j]) (Burda et al.'s
    activity statistic). Returns float64 (latent_dim,)."""
    means = latent.encode_means(model, _check_images(images), batch_size)
    return np.asarray(means, np.float64).var(axis=0)


def active_units(model, images, threshold=ACTIVE_UNIT_THRESHOLD):
    """How many latent dimensions the encoder uses: those whose posterior mean varies with x by more
    than `threshold` (variance over the images). Returns an int."""
    return int(np.sum(posterior_mean_variance(model, images) > threshold))


def _check_images(images):
    images = data.to_unit_images(images)
    if not np.all((images == 0.0) | (images == 1.0)):
        raise ValueError(
            "log p(x) of the Bernoulli decoder is defined for 0/1 images; these have grey levels. "
            "Binarise them first with vae_helpers.data.binarize_once(images, 'static' or 'dynamic')."
        )
    return images
