"""Monte Carlo bounds on log p(x) for any model with a tractable log p(x, z).

A model enters as a function `log_joint(z) -> log p(x, z)` for fixed data x: it maps latent samples
of shape (num_samples, batch, latent_dim) to shape (num_samples, batch), with q a diagonal Gaussian
(mean, logvar); or, for any q, as a function that draws log-weights (`importance_diagnostics_of`).
The toy models of chapters 1-2 and the VAEs of later chapters use the same estimators.
"""

import math

import keras
import tensorflow as tf

from vae_helpers import config, losses


def _check_q(mean, logvar):
    mean = tf.convert_to_tensor(mean)
    logvar = tf.cast(logvar, mean.dtype)
    if mean.shape.rank != 2 or mean.shape != logvar.shape:
        raise ValueError(
            "mean and logvar must both have shape (batch, latent_dim); "
            f"got {tuple(mean.shape)} and {tuple(logvar.shape)}."
        )
    return mean, logvar


def sample_q(mean, logvar, num_samples, seed=None):
    """Draws z ~ N(mean, diag(exp(logvar))) by reparameterisation.

    Args:
      mean, logvar: (batch, latent_dim).
      seed: int or `keras.random.SeedGenerator`, for repeatable draws.
    Returns:
      (num_samples, batch, latent_dim).
    """
    mean, logvar = _check_q(mean, logvar)
    num_samples = config.positive_int("num_samples", num_samples)
    shape = (num_samples, *mean.shape)
    if not mean.shape.is_fully_defined():  # inside a compiled step: the batch is known at run time
        shape = tf.concat([[num_samples], tf.shape(mean)], axis=0)
    eps = keras.random.normal(shape, seed=seed, dtype=mean.dtype)
    return mean + tf.exp(0.5 * logvar) * eps


def log_weights(log_joint, mean, logvar, num_samples, seed=None):
    """log w = log p(x, z) - log q(z|x) at z ~ q(z|x): the summands of every bound here.

    Returns:
      (num_samples, batch).
    """
    mean, logvar = _check_q(mean, logvar)
    z = sample_q(mean, logvar, num_samples, seed)
    log_p = log_joint(z)
    if log_p.shape != z.shape[:2]:
        raise ValueError(f"log_joint must map z {tuple(z.shape)} to shape {tuple(z.shape[:2])}; got {tuple(log_p.shape)}.")
    return log_p - losses.log_normal_pdf(z, mean, logvar, raxis=-1)


def elbo(log_joint, mean, logvar, num_samples=1, seed=None):
    """The ELBO estimated by the mean of `num_samples` log-weights (num_samples=1: the seed's form).

    Returns:
      (batch,), in nats.
    """
    return tf.reduce_mean(log_weights(log_joint, mean, logvar, num_samples, seed), axis=0)


def elbo_analytic_kl(log_likelihood, mean, logvar, num_samples=1, seed=None):
    """The ELBO as E_q[log p(x|z)] (estimated) minus KL(q || N(0, I)) (closed form).

    Args:
      log_likelihood: z (num_samples, batch, latent_dim) -> log p(x|z) (num_samples, batch).
    Returns:
      (batch,), in nats.
    """
    mean, logvar = _check_q(mean, logvar)
    z = sample_q(mean, logvar, num_samples, seed)
    return tf.reduce_mean(log_likelihood(z), axis=0) - losses.analytic_kl(mean, logvar)


def iwae(log_joint, mean, logvar, k, seed=None, chunk_size=None):
    """The importance-weighted bound IWAE_k = E[log (1/k) sum_i w_i] (Burda et al., 2015), one draw.

    Computed with a running log-sum-exp over chunks of samples, so that large k fits in memory.

    Args:
      k: positive int, the number of importance samples.
      chunk_size: samples drawn at once (default: all k).
    Returns:
      (batch,), in nats. IWAE_1 is the single-sample ELBO; IWAE_k rises towards log p(x) with k.
    """
    return importance_diagnostics(log_joint, mean, logvar, k, seed, chunk_size)["iwae"]


def importance_diagnostics(log_joint, mean, logvar, k, seed=None, chunk_size=None):
    """`importance_diagnostics_of` for a diagonal-Gaussian q: the log-weights of `log_weights`.

    Args:
      log_joint, mean, logvar, k, seed, chunk_size: as for `iwae`.
    """
    mean, logvar = _check_q(mean, logvar)
    if not isinstance(seed, keras.random.SeedGenerator):
        seed = keras.random.SeedGenerator(seed)  # chunks must draw different samples
    return importance_diagnostics_of(lambda n: log_weights(log_joint, mean, logvar, n, seed), k, chunk_size)


def importance_diagnostics_of(draw, k, chunk_size=None):
    """IWAE_k and what its k importance weights say about it, from one draw of k samples.

    With normalised weights w_i / sum_j w_j, the effective sample size is
    ESS = (sum_i w_i)^2 / sum_i w_i^2, between 1 (one weight carries everything) and k (all
    equal). The standard error of log((1/k) sum_i w_i) by the delta method is the sample standard
    deviation of w over sqrt(k) mean(w), which is sqrt((k / ESS - 1) / (k - 1)). Both are
    estimates from the weights drawn: where the weights' variance is infinite (q narrower than
    the posterior) the ESS of k draws overstates the truth and falls further as k grows.

    Args:
      draw: maps a number of samples n to the log-weights log p(x, z) - log q(z|x) of n fresh
        draws z ~ q(z|x), shape (n, batch): any q, any model (`evaluation` passes a model's own).
      k: positive int, the number of importance samples.
      chunk_size: samples drawn at once (default: all k), so that large k fits in memory.
    Returns:
      A dict of (batch,) tensors: "iwae" (nats), "ess" (in samples) and "standard_error" (nats;
      inf when k = 1).
    """
    k = config.positive_int("k", k)
    chunk_size = k if chunk_size is None else config.positive_int("chunk_size", chunk_size)
    total = squares = None  # running log sum_i w_i and log sum_i w_i^2
    for start in range(0, k, chunk_size):
        log_w = draw(min(chunk_size, k - start))
        chunk, chunk_squares = tf.reduce_logsumexp(log_w, axis=0), tf.reduce_logsumexp(2.0 * log_w, axis=0)
        if total is None:
            total, squares = chunk, chunk_squares
        else:
            total = tf.reduce_logsumexp(tf.stack([total, chunk]), axis=0)
            squares = tf.reduce_logsumexp(tf.stack([squares, chunk_squares]), axis=0)
    ess = tf.exp(2.0 * total - squares)
    if k == 1:
        error = tf.fill(tf.shape(ess), tf.constant(math.inf, ess.dtype))
    else:
        # k / ESS >= 1 in exact arithmetic; rounding may put it a hair below.
        error = tf.sqrt(tf.maximum(k / ess - 1.0, 0.0) / (k - 1))
    return {"iwae": total - math.log(k), "ess": ess, "standard_error": error}
