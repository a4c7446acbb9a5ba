"""Scoring a trained `CVAE` the way papers do: bounds on log p(x) in nats per image, and what the
latent dimensions are used for.

`iwae` here is chapter 2's estimator (`vae_helpers.bounds`) given the model's log-weights; there is
one implementation of the bound in the book. Every estimator scores a model through the parts of
its contract (`models.base`): `prior_log_prob`, `posterior_sample` and `log_likelihood`, the
densities it trains with, so a score is on the scale of the model's own "elbo" metric, and a model
with another prior, posterior or likelihood is scored by its own. For a model with a small latent space,
`inference_gaps` splits log p(x) - ELBO into the approximation and amortisation gaps of Cremer,
Li & Duvenaud (2018), with the best Gaussian q of each image found by `optimal_gaussian`.
"""

import itertools
import math
import statistics

import keras
import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

from vae_helpers import bounds, config, data, latent, losses, models

ACTIVE_UNIT_THRESHOLD = 1e-2
"""Burda et al. (2015): a latent unit is active if the variance over x of its posterior mean exceeds this."""

DECODES_PER_CALL = 20_000
"""Codes drawn at once when a bound needs many samples: k * batch capped so memory stays small."""

REFINE_NATS = 20.0
"""`grid_log_marginal` integrates again, on a fine grid, every coarse cell within this many nats of
the total (a second mode q missed)."""
REFINE_PER_AXIS = 16
"""Points per axis of the fine grid over one refined coarse cell."""
MAX_REFINED_CELLS = 64
"""At most this many coarse cells, the heaviest, are refined per image."""


def decode_logits(model, z):
    """`model.decode(z)`, the logits (n, 28, 28, 1) of codes z (n, latent_dim), through the
    model's compiled decoder (`models.VAEBase.decode_many`)."""
    return model.decode_many(z)


def log_likelihood_of(model, x):
    """The function z -> log p(x|z) of the model (`log_likelihood`, a part of its contract), for
    fixed images x.

    Args:
      model: a model of `vae_helpers.models`.
      x: float32 (batch, 28, 28, 1): 0/1 pixels for a Bernoulli decoder, grey levels in [0, 1]
        for a continuous one.
    Returns:
      A function mapping z (num_samples, batch, latent_dim) to (num_samples, batch), in nats.
    """
    x = tf.convert_to_tensor(x, tf.float32)
    return lambda z: model.log_likelihood(x, z)


def log_joint_of(model, x):
    """The function z -> log p(x, z) = log p(x|z) + log p(z) for fixed images x, the model's own
    likelihood and prior.

    Args:
      model: a model of `vae_helpers.models`.
      x: float32 (batch, 28, 28, 1), as for `log_likelihood_of`.
    Returns:
      A function mapping z (num_samples, batch, latent_dim) to (num_samples, batch), in nats, as
      `vae_helpers.bounds` expects.
    """
    log_likelihood = log_likelihood_of(model, x)
    return lambda z: log_likelihood(z) + tf.cast(model.prior_log_prob(z), z.dtype)


def log_weights_of(model, x, seed):
    """The function n -> log p(x, z) - log q(z|x) at n fresh draws z ~ q(z|x) per image, shape
    (n, batch): the summands of every bound, from the model's prior, posterior and likelihood."""
    x = tf.convert_to_tensor(x, tf.float32)

    def draw(num_samples):
        z, log_q = model.posterior_sample(x, num_samples, seed)
        return model.log_likelihood(x, z) + model.prior_log_prob(z) - log_q

    return draw


def _log_prior(model):
    """The prior `quadrature_elbo` is given: None for N(0, I) (its closed-form KL), else the
    model's own `prior_log_prob`."""
    return None if model.standard_prior else model.prior_log_prob


def iwae(model, images, k, batch_size=100, seed=config.SEED, labels=None):
    """IWAE_k of each image, a lower bound on log p(x) that tightens as k grows (Burda et al., 2015).

    Args:
      model: a `CVAE`.
      images: (N, 28, 28, 1): 0/1 images for a Bernoulli decoder (see
        `vae_helpers.data.binarize_once`), grey levels in [0, 1] for a continuous likelihood.
      k: positive int, importance samples per image; k = 1 is the single-sample ELBO.
      batch_size: images encoded at once; samples are drawn in chunks of at most
        `DECODES_PER_CALL // batch_size`, so k = 5,000 needs no more memory than k = 100.
      seed: seeds the samples, so a score repeats exactly.
      labels: for a model that `uses_labels` (chapter 12's), each image's digit (N,): the bound
        is then on log p(x|y), the conditional model's; None for any other model.
    Returns:
      float64 array of shape (N,), nats.
    """
    return iwae_diagnostics(model, images, k, batch_size, seed, labels)["iwae"]


def iwae_diagnostics(model, images, k, batch_size=100, seed=config.SEED, labels=None):
    """IWAE_k of each image, as `iwae` gives it for the same arguments, with its effective sample
    size and standard error (`vae_helpers.bounds.importance_diagnostics`).

    Args:
      model, images, k, batch_size, seed, labels: as for `iwae`.
    Returns:
      A dict of float64 arrays (N,): "iwae" (nats), "ess" (samples, 1 to k) and
      "standard_error" (nats, by the delta method; inf for k = 1).
    """
    images = _check_images(model, images)
    batch_size = config.positive_int("batch_size", batch_size)
    # Each batch is scored through model.scored_at(x, its labels): the model itself, or a
    # conditional model at the batch's labels (a bound on log p(x|y)) or observed pixels.
    label_batches = (itertools.repeat(None) if labels is None
                     else _batches(data.check_labels(labels, len(images)), batch_size))
    generator = keras.random.SeedGenerator(seed)
    chunk_size = max(1, DECODES_PER_CALL // batch_size)
    parts = {"iwae": [], "ess": [], "standard_error": []}
    for x, y in zip(_batches(images, batch_size), label_batches):
        found = bounds.importance_diagnostics_of(log_weights_of(model.scored_at(x, y), x, generator), k, chunk_size)
        for name, values in found.items():
            parts[name].append(np.asarray(values, np.float64))
    return {name: np.concatenate(values) for name, values in parts.items()}


def iwae_outliers(log_marginal, estimate, standard_error, margin, num_errors=3.0, bound_only=False):
    """The images whose IWAE_k estimate is further from the exact log p(x) than its own error allows.

    Image i passes when |log_marginal_i - estimate_i| <= num_errors * standard_error_i + margin:
    each image is held to its own Monte Carlo standard error (`iwae_diagnostics`), so one image
    far off cannot hide behind an error taken across images; `margin` (nats) allows the bias that
    remains at finite k. With `bound_only`, only estimate_i - log_marginal_i is held to that
    tolerance: IWAE_k is a lower bound in expectation, so it may lie far below log p(x) where k
    is too small, but above it only by chance.

    Args:
      log_marginal, estimate, standard_error: float arrays (N,), nats.
      margin: a number >= 0, nats.
      num_errors: how many standard errors an image may be off.
      bound_only: test only that the estimate is not above log p(x).
    Returns:
      int array of the failing images' indices (empty when all pass).
    """
    log_marginal, estimate, standard_error = (np.asarray(a, np.float64)
                                              for a in (log_marginal, estimate, standard_error))
    if not log_marginal.shape == estimate.shape == standard_error.shape or log_marginal.ndim != 1:
        raise ValueError(
            f"log_marginal, estimate and standard_error must be 1-D arrays of one shape; got "
            f"{log_marginal.shape}, {estimate.shape} and {standard_error.shape}."
        )
    above = estimate - log_marginal
    passed = (above if bound_only else np.abs(above)) <= num_errors * standard_error + margin
    return np.flatnonzero(~passed)


def correlation_interval(x, y, level=0.95):
    """Pearson's correlation of x and y with a confidence interval by Fisher's z transformation.

    atanh(r) is close to normal with standard deviation 1 / sqrt(n - 3) (for roughly normal data),
    so the interval is tanh(atanh(r) +- z_level / sqrt(n - 3)). With n <= 3 points there is no
    interval and (-1, 1) is returned.

    Args:
      x, y: float arrays (n,), n >= 2.
      level: the interval's coverage, in (0, 1).
    Returns:
      (r, low, high), floats.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2:
        raise ValueError(f"x and y must be 1-D arrays of one length, at least 2; got {x.shape} and {y.shape}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95; got {level!r}.")
    r = float(np.corrcoef(x, y)[0, 1])
    if len(x) <= 3:
        return r, -1.0, 1.0
    half = statistics.NormalDist().inv_cdf(0.5 + level / 2) / math.sqrt(len(x) - 3)
    centre = math.atanh(min(max(r, -1 + 1e-15), 1 - 1e-15))
    return r, math.tanh(centre - half), math.tanh(centre + half)


def summarize(scores):
    """Mean and standard error of per-image scores.

    Args:
      scores: at least 2 finite numbers, shape (N,) (a standard error needs two).
    Returns:
      (mean, standard error), floats.
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 1 or len(scores) < 2:
        raise ValueError(
            f"summarize needs at least 2 scores in a 1-D array (a standard error needs two); got shape "
            f"{scores.shape}. Score more images, or report a single score without an error."
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError(
            f"summarize got {int(np.sum(~np.isfinite(scores)))} NaN or infinite scores of {len(scores)}: "
            "find the images that produced them (np.flatnonzero(~np.isfinite(scores)))."
        )
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
      images: (N, 28, 28, 1), as for `iwae`.
      num_per_axis: positive int, points per axis of the fine grid over q's box.
      box_stds: positive number, the box's half-width in standard deviations of q(z|x).
      limit: positive number, the coarse grid covers [-limit, limit]^2.
      outer_per_axis: positive int, points per axis of the coarse grid.
    Returns:
      float64 array of shape (N,), nats.
    """
    if model.latent_dim != 2:
        raise ValueError(f"grid quadrature needs latent_dim = 2 (a grid grows exponentially); got {model.latent_dim}. Use iwae.")
    num_per_axis = config.positive_int("num_per_axis", num_per_axis)
    outer_per_axis = config.positive_int("outer_per_axis", outer_per_axis)
    box_stds = config.positive_number("box_stds", box_stds)
    limit = config.positive_number("limit", limit)
    images = _check_images(model, images)
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



def _midpoint_grid(low, high, num_per_axis):
    """`latent.midpoint_grid`'s cell centres (num_per_axis^2, 2), and the log of a cell's area."""
    z, widths = latent.midpoint_grid(low, high, num_per_axis)
    return z, float(np.sum(np.log(widths)))


def _log_terms(model, image, z, log_cell):
    """log of p(x|z) p(z) times the cell area, for cells centred at z (cells, 2) -> (cells,)."""
    if len(z) == 0:
        return np.zeros(0)
    z = z.astype(np.float32)
    log_likelihood = np.concatenate([
        np.asarray(model.log_likelihood(np.broadcast_to(image, (len(chunk), *data.IMAGE_SHAPE)), chunk), np.float64)
        for chunk in np.array_split(z, len(z) // DECODES_PER_CALL + 1)
    ])
    return log_likelihood + np.asarray(model.prior_log_prob(z), np.float64) + log_cell


QUADRATURE_POINTS = 6
"""Gauss-Hermite points per latent axis while searching for the best q: 36 decoder passes per image
and step for a 2-D z. Enough where q is as narrow as the posterior (chapter 7 checks)."""

EVALUATION_POINTS = 40
"""Gauss-Hermite points per latent axis when an ELBO is reported: an encoder's q can be much wider
than the posterior, and a coarse rule then misses the narrow region where log p(x|z) is high (on
a test's model, 20 points missed a converged grid's ELBO of a wide q by 0.03 nats; 40 by 0.001)."""

MAX_QUADRATURE_NODES = 10_000
"""A tensor-product rule has num_points ** latent_dim nodes: beyond this, sample instead."""


def quadrature_elbo(log_likelihood, mean, logvar, num_points=QUADRATURE_POINTS, log_prior=None):
    """The ELBO of q = N(mean, diag(exp(logvar))) without sampling: E_q[log p(x|z)] by a
    tensor-product Gauss-Hermite rule, minus KL(q || N(0, I)) in closed form; or, for another
    prior `log_prior`, E_q[log p(x|z) + log p(z)] by the same rule plus q's entropy in closed form.

    Deterministic and differentiable in mean and logvar, so it can be maximised for each image.
    The rule is exact when log p(x|z) is a polynomial of degree below 2 * num_points in z.

    Args:
      log_likelihood: maps z (num_points ** latent_dim, batch, latent_dim) to log p(x|z) of shape
        (num_points ** latent_dim, batch).
      mean, logvar: float tensors (batch, latent_dim).
      num_points: positive int, nodes per latent axis.
      log_prior: None for N(0, I), or a function z (..., latent_dim) -> log p(z) (...), such as
        a model's `prior_log_prob`.
    Returns:
      Tensor (batch,), nats, in the dtype of mean.
    """
    mean = tf.convert_to_tensor(mean)
    logvar = tf.cast(logvar, mean.dtype)
    if mean.shape.rank != 2 or mean.shape != logvar.shape:
        raise ValueError(f"mean and logvar must both have shape (batch, latent_dim); got {tuple(mean.shape)} and {tuple(logvar.shape)}.")
    nodes, log_weights = _gauss_hermite(int(mean.shape[1]), num_points)
    # z = mean + std * node: the standard-normal rule moved onto each image's q.
    z = mean + tf.exp(0.5 * logvar) * tf.constant(nodes[:, None, :], mean.dtype)
    weights = tf.constant(np.exp(log_weights), mean.dtype)
    if log_prior is None:
        return tf.tensordot(weights, log_likelihood(z), axes=1) - losses.analytic_kl(mean, logvar)
    log_joint = log_likelihood(z) + tf.cast(log_prior(z), mean.dtype)
    entropy = 0.5 * tf.reduce_sum(logvar + 1.0 + losses.LOG_2PI, axis=-1)
    return tf.tensordot(weights, log_joint, axes=1) + entropy


def _gauss_hermite(latent_dim, num_points):
    """Nodes (num_points ** latent_dim, latent_dim) and log-weights of E over N(0, I_latent_dim)."""
    num_points = config.positive_int("num_points", num_points)
    if num_points**latent_dim > MAX_QUADRATURE_NODES:
        raise ValueError(
            f"a Gauss-Hermite rule with {num_points} points per axis has {num_points}^{latent_dim} nodes in "
            f"{latent_dim} dimensions; use fewer points, or a Monte Carlo ELBO (monte_carlo_elbo) for this latent_dim."
        )
    nodes, weights = np.polynomial.hermite_e.hermegauss(num_points)  # weight function exp(-t^2 / 2)
    log_weights = np.log(weights / math.sqrt(2 * math.pi))
    grids = np.meshgrid(*[nodes] * latent_dim, indexing="ij")
    log_grids = np.meshgrid(*[log_weights] * latent_dim, indexing="ij")
    return (np.stack([g.ravel() for g in grids], axis=-1), np.sum([g.ravel() for g in log_grids], axis=0))


def optimal_gaussian(log_likelihood, mean, logvar, steps, learning_rate=0.1, num_points=QUADRATURE_POINTS,
                     log_prior=None):
    """The best diagonal Gaussian q for each example: maximises `quadrature_elbo` over its mean and
    log-variance by Adam, starting from (mean, logvar) (the encoder's q, for a VAE).

    The search runs in coordinates relative to the starting q (mean + std * shift, std * exp(stretch)),
    so one step size suits posteriors of any width; the step size decays to 0 along a cosine, so
    the last steps settle. Each example's objective is its own, so one optimiser serves the whole
    batch. The best iterate is kept, so the result is never below the start; an optimiser stopped
    early can only under-state how much better than the start the best q is.

    Args:
      log_likelihood, num_points, log_prior: as in `quadrature_elbo`.
      mean, logvar: (batch, latent_dim), the starting q.
      steps: non-negative int, Adam steps.
      learning_rate: positive number, Adam's first step size (in units of the starting q's
        standard deviation).
    Returns:
      mean, logvar (batch, latent_dim) and the ELBO (batch,) of the best q, float64 numpy arrays.
    """
    steps = config.positive_int("steps", steps, minimum=0)
    learning_rate = config.positive_number("learning_rate", learning_rate)
    mean = tf.convert_to_tensor(mean)
    logvar = tf.cast(logvar, mean.dtype)
    std = tf.exp(0.5 * logvar)
    shift = keras.Variable(tf.zeros_like(mean), dtype=mean.dtype)
    stretch = keras.Variable(tf.zeros_like(mean), dtype=mean.dtype)
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=max(steps, 1))
    optimizer = keras.optimizers.Adam(schedule)
    optimizer.build([shift, stretch])  # its slots must exist before the compiled step runs

    def evaluate():
        q_mean, q_logvar = mean + std * shift, logvar + 2.0 * stretch
        return q_mean, q_logvar, quadrature_elbo(log_likelihood, q_mean, q_logvar, num_points, log_prior)

    # No Python control flow depends on tensors here, so AutoGraph's rewriting is not needed.
    @tf.function(autograph=False)
    def step():
        # Returns q and its ELBO before the update.
        with tf.GradientTape() as tape:
            q_mean, q_logvar, elbo = evaluate()
            loss = -tf.reduce_sum(elbo)
        optimizer.apply_gradients(zip(tape.gradient(loss, [shift, stretch]), [shift, stretch]))
        return q_mean, q_logvar, elbo

    best_mean, best_logvar = np.array(mean, np.float64), np.array(logvar, np.float64)
    best = np.full(best_mean.shape[0], -np.inf)
    for index in range(steps + 1):
        q_mean, q_logvar, elbo = step() if index < steps else evaluate()
        value = np.asarray(elbo, np.float64)
        better = value > best
        best = np.where(better, value, best)
        best_mean[better], best_logvar[better] = np.asarray(q_mean)[better], np.asarray(q_logvar)[better]
    return best_mean, best_logvar, best


def encoder_elbo(model, images, num_points=EVALUATION_POINTS, batch_size=500):
    """The ELBO of the encoder's own q(z|x) for each image, by `quadrature_elbo` (no sampling).

    Args:
      model: a `CVAE` with a small latent_dim (the rule has num_points ** latent_dim nodes).
      images: (N, 28, 28, 1), as for `iwae`.
      batch_size: images encoded at once (they are decoded in smaller groups).
    Returns:
      float64 (N,), nats.
    """
    model.require_gaussian_posterior("encoder_elbo")
    images = _check_images(model, images)
    means, logvars = latent.encode(model, images, config.positive_int("batch_size", batch_size))
    return _quadrature_elbo_of(model, images, means, logvars, num_points)


def optimal_gaussian_elbo(model, images, steps, learning_rate=0.1, num_points=QUADRATURE_POINTS,
                          evaluation_points=EVALUATION_POINTS, batch_size=50):
    """The ELBO of the best diagonal Gaussian q for each image: what an encoder could reach with
    unlimited capacity for these images. `optimal_gaussian` climbs from the encoder's q and from
    copies of it moved `EXPLORE_SHIFT` standard deviations along each axis, each for
    1/`EXPLORE_SHARE` of the steps, then goes on from the best for all `steps`: a posterior with
    two modes has a local maximum on each, and the encoder's q may lie in the worse one's basin.

    The search climbs the cheap rule of `num_points` per axis; the q it finds is then scored again
    with `evaluation_points` per axis, so that a q which only exploits the cheap rule's error
    shows up as a difference between the two.

    Args:
      model: a `CVAE` with a small latent_dim.
      images: (N, 28, 28, 1), as for `iwae`.
      steps: Adam steps per batch of images.
      batch_size: images optimised together (each costs num_points ** latent_dim decodes a step).
    Returns:
      elbo, elbo_searched: float64 (N,), nats: the best q's ELBO by the fine rule, and by the
      rule the search climbed; mean, logvar: float64 (N, latent_dim), the best q.
    """
    images = _check_images(model, images)
    batch_size = config.positive_int("batch_size", batch_size)
    steps = config.positive_int("steps", steps, minimum=0)
    fine, searched, means, logvars = [], [], [], []
    for x, mean, logvar in _encoded_batches(model, images, batch_size):
        log_likelihood = log_likelihood_of(model, x)
        mean, logvar = _best_start(model, x, mean, logvar, steps // EXPLORE_SHARE, learning_rate, num_points)
        best_mean, best_logvar, best = optimal_gaussian(log_likelihood, mean, logvar, steps, learning_rate, num_points,
                                                        _log_prior(model))
        searched.append(best)
        fine.append(_quadrature_elbo_of(model, x, best_mean, best_logvar, evaluation_points))
        means.append(best_mean)
        logvars.append(best_logvar)
    return tuple(np.concatenate(parts) for parts in (fine, searched, means, logvars))


EXPLORE_SHARE = 5
"""`optimal_gaussian_elbo` first climbs from 2 * latent_dim + 1 starts for 1/EXPLORE_SHARE of its
steps each, then searches on from the best: the ELBO over Gaussians can have a local maximum on
each mode of a posterior with two, and the encoder's q may sit in the basin of the worse one."""

EXPLORE_SHIFT = 2.0
"""The starts besides the encoder's q: its mean moved this many of its standard deviations along
each axis, either way, with its variance."""


def _best_start(model, x, mean, logvar, steps, learning_rate, num_points):
    """The best of the encoder's q and its shifted copies (`EXPLORE_SHIFT`) for each image, after
    `steps` of `optimal_gaussian` from each (all climbed together). (batch, latent_dim) in and
    out; with steps = 0, the encoder's q itself."""
    if steps == 0:
        return mean, logvar
    mean, logvar = np.asarray(mean, np.float64), np.asarray(logvar, np.float64)
    batch, dim = mean.shape
    shifts = np.concatenate([np.zeros((1, dim)), EXPLORE_SHIFT * np.eye(dim), -EXPLORE_SHIFT * np.eye(dim)])
    starts = (mean[None] + shifts[:, None, :] * np.exp(0.5 * logvar)[None]).reshape(-1, dim)
    tiled = np.tile(logvar, (len(shifts), 1))
    found_mean, found_logvar, found = optimal_gaussian(
        log_likelihood_of(model, np.tile(x, (len(shifts), 1, 1, 1))), tf.constant(starts), tf.constant(tiled),
        steps, learning_rate, num_points, _log_prior(model))
    # Row s * batch + b is image b from start s.
    best = np.argmax(found.reshape(len(shifts), batch), axis=0) * batch + np.arange(batch)
    return tf.constant(found_mean[best]), tf.constant(found_logvar[best])


def _quadrature_elbo_of(model, images, mean, logvar, num_points):
    """`quadrature_elbo` of a CVAE, a few images at a time so that at most about
    DECODES_PER_CALL / 2 decodes run at once. Returns float64 (N,)."""
    step = max(1, DECODES_PER_CALL // (2 * num_points**model.latent_dim))
    return np.concatenate([
        np.asarray(quadrature_elbo(log_likelihood_of(model, images[i : i + step]), mean[i : i + step],
                                   logvar[i : i + step], num_points, _log_prior(model)), np.float64)
        for i in range(0, len(images), step)
    ])


def inference_gaps(model, images, log_marginal, steps, learning_rate=0.1, num_points=QUADRATURE_POINTS,
                   evaluation_points=EVALUATION_POINTS):
    """Splits log p(x) - ELBO of each image into Cremer, Li & Duvenaud's (2018) two gaps.

    approximation gap = log p(x) - (ELBO of the best Gaussian q): the cost of a Gaussian family;
    amortisation gap = (ELBO of the best Gaussian q) - (ELBO of the encoder's q): the cost of
    predicting q with one network for all images instead of optimising it for each.
    Both ELBOs are scored with `evaluation_points` per axis.

    Args:
      model: a `CVAE` with a small latent_dim.
      images: (N, 28, 28, 1), as for `iwae`.
      log_marginal: (N,) the exact log p(x) of each image (`grid_log_marginal` for a 2-D model).
      steps, learning_rate, num_points: as in `optimal_gaussian`.
    Returns:
      A dict of float64 arrays (N,), nats: "log_marginal", "encoder_elbo", "encoder_elbo_searched"
      (the encoder's q by the search's rule), "optimal_elbo", "optimal_elbo_searched" (the best q
      by the search's own rule), "approximation_gap", "amortisation_gap"; and the best q itself,
      "optimal_mean" and "optimal_logvar", float64 (N, latent_dim).
    """
    log_marginal = np.asarray(log_marginal, np.float64)
    if log_marginal.shape != (len(images),):
        raise ValueError(f"log_marginal must hold one value per image, shape ({len(images)},); got {log_marginal.shape}.")
    if not np.all(np.isfinite(log_marginal)):
        raise ValueError("log_marginal holds NaN or infinite values: check the computation that produced it.")
    encoder = encoder_elbo(model, images, evaluation_points)
    optimal, searched, mean, logvar = optimal_gaussian_elbo(
        model, images, steps, learning_rate, num_points, evaluation_points)
    return {
        "log_marginal": log_marginal,
        "encoder_elbo": encoder,
        "encoder_elbo_searched": encoder_elbo(model, images, num_points),
        "optimal_elbo": optimal,
        "optimal_elbo_searched": searched,
        "optimal_mean": mean,
        "optimal_logvar": logvar,
        "approximation_gap": log_marginal - optimal,
        "amortisation_gap": optimal - encoder,
    }


def grid_kl_to_posterior(model, images, mean, logvar, log_marginal, num_per_axis=101, box_stds=8.0):
    """KL(q || p(z|x)) of a Gaussian q for each image of a 2-D model, by a midpoint grid.

    The posterior is known where log p(x) is: p(z|x) = p(x|z) p(z) / p(x). So
    KL = sum over cells of q(z) dA (log q(z) - log p(x, z)) + log p(x), on a grid over
    q's box mean +- box_stds standard deviations (where all but a negligible share of q's mass
    is). It shares no quadrature with `quadrature_elbo`: for the best q it is the approximation
    gap computed a second way. Compare two values of `num_per_axis` before trusting it.

    Args:
      model: a `CVAE` with latent_dim = 2.
      images: (N, 28, 28, 1), as for `iwae`.
      mean, logvar: (N, 2), the q of each image.
      log_marginal: (N,), log p(x) of each image (`grid_log_marginal`).
      num_per_axis: positive int, grid points per axis.
      box_stds: positive number, the box's half-width in standard deviations of q.
    Returns:
      float64 array of shape (N,), nats.
    """
    if model.latent_dim != 2:
        raise ValueError(f"grid quadrature needs latent_dim = 2; got {model.latent_dim}.")
    num_per_axis = config.positive_int("num_per_axis", num_per_axis)
    box_stds = config.positive_number("box_stds", box_stds)
    images = _check_images(model, images)
    mean, logvar = np.asarray(mean, np.float64), np.asarray(logvar, np.float64)
    log_marginal = np.asarray(log_marginal, np.float64)
    if mean.shape != (len(images), 2) or logvar.shape != mean.shape or log_marginal.shape != (len(images),):
        raise ValueError(
            f"for {len(images)} images mean and logvar must have shape ({len(images)}, 2) and log_marginal "
            f"({len(images)},); got {mean.shape}, {logvar.shape} and {log_marginal.shape}."
        )
    kls = []
    for image, m, v, log_p in zip(images, mean, logvar, log_marginal):
        std = np.exp(v / 2)
        z, log_cell = _midpoint_grid(m - box_stds * std, m + box_stds * std, num_per_axis)
        log_q = np.sum(-0.5 * ((z - m) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi), axis=1)
        log_joint = _log_terms(model, image, z, log_cell) - log_cell
        mass = np.exp(log_q + log_cell)
        kls.append(np.sum(mass * (log_q - log_joint)) / np.sum(mass) + log_p)
    return np.array(kls)


def inference_gap_failures(gaps, grid_kl, kl_grid_error, log_marginal_error, elbo_draws=None,
                           elbo_error=None, num_errors=4):
    """What the split of `inference_gaps` gets wrong, checked against independent numbers.

    Each tolerance is an error measured on the same images: the search's rule against the fine
    rule at the best q (r_best = |optimal_elbo - optimal_elbo_searched|) and at the encoder's q
    (r_start, likewise), the change of the grid KL between two grid sizes and of log p(x) between
    two grids. An image fails when
      * its approximation gap differs from `grid_kl`, KL(q* || p(z|x)) on a grid, by more than
        r_best + kl_grid_error + log_marginal_error (a wrong ELBO of q*, or an ELBO of another q
        than the one found; the last term is the float32 decoder's noise floor, which two grids
        of log p(x) show as well as two rules of one ELBO do);
      * its approximation gap is below -(r_best + log_marginal_error) (a q beat log p(x));
      * its amortisation gap is below -(r_best + r_start): the search keeps its best iterate, so
        by its own rule it never ends below the encoder's q;
      * (given elbo_draws and elbo_error) the encoder's ELBO by quadrature differs from its Monte
        Carlo estimate by more than num_errors standard errors + r_start.

    Args:
      gaps: the dict `inference_gaps` returns, arrays (N,).
      grid_kl: (N,), `grid_kl_to_posterior` of the best q.
      kl_grid_error: (N,) or a number, nats: how much grid_kl changes with the grid size.
      log_marginal_error: (N,) or a number, nats: how much log p(x) changes with the grid.
      elbo_draws, elbo_error: optional (N,), `monte_carlo_elbo` of the encoder's q.
    Returns:
      A list of strings, one per failure ("image 3: ..."); empty when the split holds.
    """
    r_best = np.abs(gaps["optimal_elbo"] - gaps["optimal_elbo_searched"])
    r_start = np.abs(gaps["encoder_elbo"] - gaps["encoder_elbo_searched"])
    approximation, amortisation = gaps["approximation_gap"], gaps["amortisation_gap"]
    tests = [
        ("approximation gap {a:.4f} differs from the grid KL {k:.4f} by more than {t:.4f}",
         np.abs(approximation - grid_kl) <= r_best + kl_grid_error + log_marginal_error,
         r_best + kl_grid_error + log_marginal_error),
        ("approximation gap {a:.4f} is below -{t:.4f}: a Gaussian q beat log p(x)",
         approximation >= -(r_best + log_marginal_error), r_best + log_marginal_error),
        ("amortisation gap {m:.4f} is below -{t:.4f}: the search ended below the encoder's q",
         amortisation >= -(r_best + r_start), r_best + r_start),
    ]
    if elbo_draws is not None:
        tolerance = num_errors * np.asarray(elbo_error) + r_start
        tests.append(("encoder ELBO by quadrature is {d:.4f} from its Monte Carlo estimate, more than {t:.4f}",
                      np.abs(gaps["encoder_elbo"] - elbo_draws) <= tolerance, tolerance))
    failures = []
    for message, passed, tolerance in tests:
        tolerance = np.broadcast_to(tolerance, approximation.shape)
        for i in np.flatnonzero(~np.asarray(passed)):
            difference = np.nan if elbo_draws is None else abs(gaps["encoder_elbo"][i] - elbo_draws[i])
            failures.append(f"image {i}: " + message.format(
                a=approximation[i], k=grid_kl[i], m=amortisation[i], t=tolerance[i], d=difference))
    return failures


def monte_carlo_elbo(model, images, num_samples, batch_size=None, seed=config.SEED):
    """The ELBO of the encoder's q for each image from `num_samples` draws, with its standard error.

    Args:
      model: a `CVAE`.
      images: (N, 28, 28, 1), as for `iwae`.
      num_samples: positive int, draws of z per image.
    Returns:
      elbo, standard_error: float64 arrays (N,), nats. With num_samples = 1 the standard error
      is inf: one draw says nothing about its spread.
    """
    images = _check_images(model, images)
    num_samples = config.positive_int("num_samples", num_samples)
    batch_size = config.positive_int("batch_size", batch_size or max(1, DECODES_PER_CALL // num_samples))
    generator = keras.random.SeedGenerator(seed)
    means, errors = [], []
    for x in _batches(images, batch_size):
        log_w = np.asarray(log_weights_of(model, x, generator)(num_samples), np.float64)
        means.append(log_w.mean(axis=0))
        errors.append(log_w.std(axis=0, ddof=1) / math.sqrt(num_samples) if num_samples > 1 else np.full(len(x), np.inf))
    return np.concatenate(means), np.concatenate(errors)


def rate_distortion(model, images, batch_size=500, seed=config.SEED):
    """The two terms of the ELBO for each image, as chapter 8 plots them (Alemi et al., 2018).

    Args:
      model: a `CVAE`.
      images: (N, 28, 28, 1), as for `iwae`.
      seed: seeds the one draw z ~ q(z|x) per image.
    Returns:
      A dict of float64 arrays (N,), nats:
        "rate": KL(q(z|x) || p(z)) in closed form;
        "rate_one_draw": log q(z|x) - log p(z) at the drawn z, the estimate training logs;
        "distortion": -log p(x|z) at the same z.
    """
    images = _check_images(model, images)
    batch_size = config.positive_int("batch_size", batch_size)
    generator = keras.random.SeedGenerator(seed)
    model.require_standard_prior("rate_distortion's rate")
    parts = {"rate": [], "rate_one_draw": [], "distortion": []}
    for x in _batches(images, batch_size):
        mean, logvar = model.encode(x)
        z, log_q = model.posterior_sample(x, seed=generator)  # (batch, latent_dim), (batch,)
        parts["rate"].append(losses.analytic_kl(mean, logvar))
        parts["rate_one_draw"].append(log_q - model.prior_log_prob(z))
        parts["distortion"].append(-model.log_likelihood(x, z))
    return {name: np.concatenate([np.asarray(t, np.float64) for t in values]) for name, values in parts.items()}


def kl_per_dimension(model, images, batch_size=500):
    """The analytic KL(q(z_j|x) || N(0, 1)) of each latent dimension j, averaged over images.

    Returns:
      float64 array of shape (latent_dim,), nats; they sum to the mean analytic KL.
    """
    model.require_standard_prior("kl_per_dimension")
    means, logvars = latent.encode(model, _check_images(model, images), batch_size)
    return np.asarray(losses.analytic_kl_per_dimension(means, logvars), np.float64).mean(axis=0)


def posterior_mean_variance(model, images, batch_size=500):
    """The variance over images of each dimension's posterior mean, Cov_x(E_q[z_j]) (Burda et al.'s
    activity statistic). Returns float64 (latent_dim,)."""
    means = latent.encode_means(model, _check_images(model, images), batch_size)
    return np.asarray(means, np.float64).var(axis=0)


def active_units(model, images, threshold=ACTIVE_UNIT_THRESHOLD):
    """How many latent dimensions the encoder uses: those whose posterior mean varies with x by more
    than `threshold` (variance over the images, a finite number >= 0). Returns an int."""
    if (isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating))
            or not np.isfinite(threshold) or threshold < 0):
        raise ValueError(
            f"threshold must be a finite number >= 0 (a variance; Burda et al. use {ACTIVE_UNIT_THRESHOLD:g}); "
            f"got {threshold!r}."
        )
    return int(np.sum(posterior_mean_variance(model, images) > threshold))


def _batches(images, batch_size):
    """Each run of `batch_size` images (or of their labels) in order, (batch, 28, 28, 1): the loop
    every estimator here walks a data set by."""
    for start in range(0, len(images), batch_size):
        yield images[start : start + batch_size]


def _encoded_batches(model, images, batch_size):
    """(x, mean, logvar) of each of `_batches`, with q's mean and logvar (batch, latent_dim)."""
    for x in _batches(images, batch_size):
        mean, logvar = model.encode(x)
        yield x, mean, logvar


def _check_images(model, images):
    """`images` as float32 (N, 28, 28, 1) in [0, 1], refused unless the model's likelihood
    scores them: a Bernoulli gives probabilities of 0/1 pixels only (its cross-entropy on grey
    levels is not a log-density of anything), a continuous likelihood takes grey levels."""
    images = data.to_unit_images(images)
    if not isinstance(model, models.VAEBase):
        raise TypeError(f"evaluation scores models of vae_helpers.models (a VAEBase); got {type(model).__name__}.")
    own_pixels = type(model).pixel_log_likelihood is not models.VAEBase.pixel_log_likelihood
    bernoulli = not own_pixels or getattr(model, "likelihood", None) == "bernoulli"
    if bernoulli and not np.all((images == 0.0) | (images == 1.0)):
        raise ValueError(
            "log p(x) of the Bernoulli decoder is defined for 0/1 images; these have grey levels. "
            "Binarise them first with vae_helpers.data.binarize_once(images, 'static' or 'dynamic')."
        )
    return images
