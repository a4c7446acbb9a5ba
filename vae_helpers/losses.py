"""The ELBO and its terms, for a Bernoulli decoder and a diagonal-Gaussian encoder.

Notation (the book's notation page): x is an image, z a latent code, q(z|x) = N(mean, diag(exp(logvar)))
the encoder, p(z) the prior (N(0, I) by default), p(x|z) the decoder's likelihood (Bernoulli pixels
by default). Everything here is per-example maths on tensors; `elbo_terms` takes a model of the
contract of `models.VAEBase`, whose prior and likelihood it asks the model for.
"""

import numpy as np
import tensorflow as tf

LOG_2PI = float(np.log(2.0 * np.pi))
KL_ESTIMATORS = ("monte_carlo", "analytic")


def log_normal_pdf(sample, mean, logvar, raxis=1):
    """log N(sample; mean, diag(exp(logvar))), summed over axis `raxis`.

    Args:
      sample: float tensor of shape (batch, latent_dim).
      mean, logvar: float tensors broadcastable to `sample` (scalars 0.0
        give the prior N(0, I)).
      raxis: the axis (or axes) summed over.
    Returns:
      Tensor of shape (batch,), in nats.
    """
    sample = tf.convert_to_tensor(sample)
    mean = tf.cast(mean, sample.dtype)
    logvar = tf.cast(logvar, sample.dtype)
    # (x - m)^2 * exp(-logvar) rather than / exp(logvar): the value is the
    # same, but once exp(logvar) overflows (logvar above about 88.7 in
    # float32) the quotient's gradient is 0 * inf = NaN; the product's is 0.
    return tf.reduce_sum(
        -0.5 * ((sample - mean) ** 2 * tf.exp(-logvar) + logvar + LOG_2PI),
        axis=raxis,
    )


def bernoulli_log_likelihood(x, logits):
    """log p(x|z) of independent Bernoulli pixels, from decoder logits.

    Sigmoid cross-entropy computed from logits, not from probabilities, so
    it stays finite even for logits of +-1e4, where sigmoid(logits) rounds
    to exactly 0 or 1.

    Args:
      x: float tensor of shape (batch, 28, 28, 1), values in [0, 1].
      logits: float tensor of the same shape.
    Returns:
      Tensor of shape (batch,), in nats (at most 0 for 0/1 pixels).
    """
    logits = tf.convert_to_tensor(logits)
    cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
        labels=tf.cast(x, logits.dtype), logits=logits
    )
    return -tf.reduce_sum(cross_entropy, axis=[1, 2, 3])


def analytic_kl(mean, logvar):
    """KL(N(mean, diag(exp(logvar))) || N(0, I)) for each example, in closed form.

    Args:
      mean, logvar: float tensors of shape (batch, latent_dim).
    Returns:
      Tensor of shape (batch,), in nats.
    """
    return tf.reduce_sum(analytic_kl_per_dimension(mean, logvar), axis=1)


def analytic_kl_per_dimension(mean, logvar):
    """KL(N(mean_j, exp(logvar_j)) || N(0, 1)) of each latent dimension j: `analytic_kl` before the sum.

    Args:
      mean, logvar: float tensors of shape (batch, latent_dim).
    Returns:
      Tensor of shape (batch, latent_dim), in nats.
    """
    mean = tf.convert_to_tensor(mean)
    logvar = tf.cast(logvar, mean.dtype)
    return 0.5 * (tf.exp(logvar) + mean**2 - 1.0 - logvar)


def elbo_terms(model, x, kl="monte_carlo"):
    """The single-sample ELBO of each example, and its two terms.

    Args:
      model: a VAE of the contract (`models.VAEBase`):
        `encode(x) -> (mean, logvar)`, `reparameterize(mean, logvar) -> z`,
        `decode(z) -> logits`, its prior's `prior_log_prob(z)` and its
        likelihood's `pixel_log_likelihood(x, logits)` (N(0, I) and
        Bernoulli pixels unless the model overrides them; chapter 11
        tries other likelihoods).
      x: float tensor of shape (batch, 28, 28, 1) of 0/1 pixels.
      kl: "monte_carlo" estimates the KL from the same z, as the TF tutorial
        does: log q(z|x) - log p(z); "analytic" uses `analytic_kl`, the
        closed form against N(0, I).
    Returns:
      Dict of tensors of shape (batch,), in nats:
        "reconstruction": log p(x|z) at one z ~ q(z|x);
        "kl": KL(q(z|x) || p(z)), estimated or exact as `kl` says;
        "elbo": reconstruction - kl;
      and "kl_per_dimension", (batch, latent_dim): each dimension's KL
      against N(0, 1) in closed form (what free bits, chapter 9, charges).
    """
    if kl not in KL_ESTIMATORS:
        raise ValueError(f"kl must be one of {KL_ESTIMATORS}; got {kl!r}.")
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar)
    reconstruction = model.pixel_log_likelihood(x, model.decode(z))
    if kl == "analytic":
        model.require_standard_prior("kl='analytic'")
        kl_value = analytic_kl(mean, logvar)
    else:
        kl_value = (log_normal_pdf(z, mean, logvar)
                    - model.prior_log_prob(z))
    return {
        "reconstruction": reconstruction,
        "kl": kl_value,
        "elbo": reconstruction - kl_value,
        "kl_per_dimension": analytic_kl_per_dimension(mean, logvar),
    }


def compute_loss(model, x):
    """The seed's loss: minus the single-sample Monte Carlo ELBO, averaged over the batch.

    -mean(log p(x|z) + log p(z) - log q(z|x)) with z ~ q(z|x) drawn once per example.

    Returns:
      Scalar tensor, in nats per image.
    """
    return -tf.reduce_mean(elbo_terms(model, x)["elbo"])


def compute_loss_analytic_kl(model, x):
    """Minus the ELBO with the KL term in closed form, averaged over the batch.

    Same expectation as `compute_loss`; only the reconstruction term is sampled. The KL term then
    has no noise, but it no longer shares its z with the reconstruction term, whose fluctuations
    the Monte Carlo KL can partly cancel: the loss's variance can be lower or higher (chapter 4
    measures both on one model and batch).

    Returns:
      Scalar tensor, in nats per image.
    """
    return -tf.reduce_mean(elbo_terms(model, x, kl="analytic")["elbo"])
