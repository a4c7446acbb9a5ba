"""Decoder likelihoods p(x|z) for pixels, chapter 11's comparison: which one fits grey levels.

Every function maps the decoder's output, logits of shape (batch, 28, 28, 1), and images of the
same shape to log p(x|z) of shape (batch,), in nats, summed over pixels:

- `bernoulli`: a log-probability of 0/1 pixels (`losses.bernoulli_log_likelihood`). Given grey
  levels it is the binary cross-entropy many courses use, which is not a normalised density on
  [0, 1]: it integrates to 1 / C(lambda) per pixel, not 1.
- `continuous_bernoulli`: Loaiza-Ganem & Cunningham's (2019) density on [0, 1], the cross-entropy
  plus log C(lambda), computed from the logit so that it stays exact near lambda = 0.5.
- `gaussian`: N(x; sigmoid(logits), scale^2) per pixel, a density on the real line.

Log-densities of grey pixels (continuous Bernoulli, Gaussian) and log-probabilities of 0/1 pixels
(Bernoulli) are different kinds of number and are not compared with each other.

The Bernoulli and the continuous Bernoulli refuse pixels outside [0, 1] when called eagerly (once
per call, in numpy); inside a compiled training step they trust the batches `training.train`
checked. `check_training_data` refuses a Gaussian on 0/1 pixels, where its density is unbounded.
"""

import math

import numpy as np
import tensorflow as tf

from vae_helpers import data, losses

LIKELIHOODS = ("bernoulli", "continuous_bernoulli", "gaussian")

TAYLOR_BELOW = 0.1
"""|logit| below which log C and the mean use their Taylor series: the closed forms divide two
numbers that both go to 0 at logit 0 (lambda = 0.5), and their gradients cancel two large terms."""

LOG_2 = math.log(2.0)


def bernoulli(x, logits):
    """log p(x|z) of independent Bernoulli pixels (the book's decoder), (batch,) nats.

    Args:
      x: float tensor (batch, 28, 28, 1), values in [0, 1].
      logits: float tensor of the same shape.
    """
    _check_unit_interval(x, "bernoulli's x")
    return losses.bernoulli_log_likelihood(x, logits)


def continuous_bernoulli_log_normalizer(logits):
    """log C(lambda) of the continuous Bernoulli with lambda = sigmoid(logits), elementwise.

    C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda), which in the logit is
    logits / tanh(logits / 2); it tends to 2 at logits = 0, where the series
    log 2 + log(1 + l^2 / 12 - l^4 / 720 + l^6 / 30240), l = logits, is used
    instead (its next term is below 1e-14 for |l| < 0.1).

    Args:
      logits: float tensor, any shape.
    Returns:
      Tensor of the same shape, nats (at least log 2).
    """
    logits = tf.convert_to_tensor(logits)
    size = tf.abs(logits)
    small = size < TAYLOR_BELOW
    # Both branches are evaluated; each gets inputs where it is finite, so
    # that the gradient of the branch not taken is 0, not NaN.
    safe = tf.where(small, tf.ones_like(size), size)
    closed_form = tf.math.log(safe) - tf.math.log(tf.tanh(safe / 2.0))
    near = tf.where(small, logits, tf.zeros_like(logits)) ** 2
    series = LOG_2 + tf.math.log1p(
        near / 12.0 - near**2 / 720.0 + near**3 / 30240.0
    )
    return tf.where(small, series, closed_form)


def continuous_bernoulli_pixels(x, logits):
    """log p(x|lambda) of each pixel under the continuous Bernoulli, elementwise.

    x log lambda + (1 - x) log(1 - lambda) + log C(lambda) for x in [0, 1]: the
    Bernoulli cross-entropy made a normalised density by its missing constant.

    Args:
      x: float tensor, values in [0, 1] (outside it the formula is no density:
        at x = 2 it gives 0 nats at logit 0).
      logits: float tensor of x's shape.
    """
    _check_unit_interval(x, "continuous_bernoulli's x")
    logits = tf.convert_to_tensor(logits)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(x, logits.dtype), logits=logits
    )
    return continuous_bernoulli_log_normalizer(logits) - cross_entropy


def continuous_bernoulli(x, logits):
    """log p(x|z) of independent continuous-Bernoulli pixels, (batch,) nats.

    Args:
      x: float tensor (batch, 28, 28, 1), values in [0, 1].
      logits: float tensor of the same shape.
    """
    return tf.reduce_sum(continuous_bernoulli_pixels(x, logits), axis=[1, 2, 3])


def continuous_bernoulli_mean(logits):
    """E[x] under the continuous Bernoulli, elementwise (it is not lambda).

    1/2 + (coth(logits / 2) - 2 / logits) / 2, with the series
    1/2 + l / 12 - l^3 / 720 + l^5 / 30240 (l = logits) near logits = 0.
    """
    logits = tf.convert_to_tensor(logits)
    small = tf.abs(logits) < TAYLOR_BELOW
    safe = tf.where(small, tf.ones_like(logits), logits)
    closed_form = 0.5 + 0.5 / tf.tanh(safe / 2.0) - 1.0 / safe
    near = tf.where(small, logits, tf.zeros_like(logits))
    series = 0.5 + near / 12.0 - near**3 / 720.0 + near**5 / 30240.0
    return tf.where(small, series, closed_form)


def gaussian(x, logits, log_scale):
    """log p(x|z) of independent Gaussian pixels N(x; sigmoid(logits), exp(log_scale)^2), (batch,).

    Args:
      x: float tensor (batch, 28, 28, 1).
      logits: float tensor of the same shape; the mean is sigmoid(logits), in (0, 1).
      log_scale: scalar (one standard deviation for every pixel) or a tensor broadcastable to x.
    """
    logits = tf.convert_to_tensor(logits)
    mean = tf.sigmoid(logits)
    log_scale = tf.cast(log_scale, logits.dtype)
    squared = ((tf.cast(x, logits.dtype) - mean) * tf.exp(-log_scale)) ** 2
    log_density = -0.5 * (squared + losses.LOG_2PI) - log_scale
    return tf.reduce_sum(log_density + tf.zeros_like(mean), axis=[1, 2, 3])


def check_training_data(likelihood, binary):
    """Refuses to train a Gaussian likelihood on pixels that are all exactly 0 or 1.

    At such pixels the density N(x; mean, sigma^2) grows without bound as sigma shrinks, so the
    training ELBO rises for ever and measures nothing. Grey levels (chapter 11) are allowed: their
    exact zeros do the same in part, which chapter 11 shows.

    Args:
      likelihood: one of `LIKELIHOODS`.
      binary: whether every training pixel is 0 or 1 (binarised images).
    """
    if check_name(likelihood) == "gaussian" and binary:
        raise ValueError(
            "a Gaussian likelihood cannot be trained on 0/1 pixels: there its density grows "
            "without bound as its standard deviation shrinks, so the ELBO rises for ever and "
            "measures nothing. Use the Bernoulli likelihood for binarised images, or train the "
            "Gaussian on grey levels (runs.train_model(..., binarization='as_is'))."
        )


def check_name(likelihood):
    """`likelihood` if it is one of `LIKELIHOODS`, else a ValueError listing them."""
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}; got {likelihood!r}.")
    return likelihood


def _check_unit_interval(x, what):
    # Eager calls only (one numpy pass over x): in a compiled training step a check would cost
    # every step, and training.train has checked the data's first batch already.
    if tf.executing_eagerly():
        data.check_pixel_range(np.asarray(x), what)
