"""The contract every model the book trains stands on, and what `CVAE` needs but does not teach.

A model is three named parts, each a method with a default (the book's VAE):

* the prior, `prior_log_prob(z)`: log p(z); by default the standard normal N(0, I);
* the posterior, `posterior_sample(x, num_samples, seed)` (a reparameterised draw of z ~ q(z|x)
  with its log-density) and `posterior_log_prob(z, x)`: by default the diagonal Gaussian
  N(mean, diag(exp(logvar))) of `encode(x) -> (mean, logvar)`;
* the likelihood, `log_likelihood(x, z)`: log p(x|z); by default Bernoulli pixels whose logits
  are `decode(z)`. A model with another pixel likelihood overrides `pixel_log_likelihood(x,
  logits)` alone.

Training (`losses.elbo_terms`), `evaluation`, `bounds`, `aggregate` and `latent` reach a model
only through these parts, so a model with another prior, posterior or likelihood overrides that
part and is trained and scored by its own densities, with no change to them. A model whose
`terms` takes labels says so with `uses_labels = True`; its training batches are then
(images, labels) pairs and `terms(x, labels)` receives both.

The checks of arguments and inputs, and saving, also live here, out of the class chapter 3 shows.
"""

import weakref

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import bounds, config, data, losses

DECODE_BATCH = 250
"""Codes per call into the compiled copy of a decoder that `decode_many` makes: on 2 CPUs the
fastest of 64 to 20,000 (benchmarks/decode_speed.py), about twice the rate of one eager call on
20,000 codes."""

# One compiled decoder per model, dropped with the model (a tf.function is not Keras state).
_compiled_decoders = weakref.WeakKeyDictionary()


class VAEBase(keras.Model):
    """The model contract (see the module's docstring), with the book's VAE as its defaults; checks
    and stores the constructor's arguments, checks inputs, and saves them in the config.

    A subclass provides `encode(x) -> (mean, logvar)`, `reparameterize` and `decode(z) -> logits`
    (as `CVAE` does), and overrides a part to change it. Shapes: x (batch, 28, 28, 1); z
    (batch, latent_dim), or (num_samples, batch, latent_dim) for several draws per image.

    Args:
      latent_dim: positive int, the size of z.
      seed: seeds the model's noise (None: from Keras' global seed).
      beta: non-negative finite number, the weight of the KL term in the training loss.
    """

    uses_labels = False
    """True for a model whose `terms(x, labels)` needs each image's label (int, 0-9)."""

    unlabelled_ok = False
    """True for a model that learns from images without labels too (`data.UNLABELLED`, -1)."""

    def training_labels(self, labels):
        """The labels this model trains with, given every training image's (N,): all of them.
        A semi-supervised model keeps a few and marks the rest `data.UNLABELLED`."""
        return labels

    def __init__(self, latent_dim, seed=None, beta=1.0, **kwargs):
        latent_dim = _check_latent_dim(latent_dim)
        beta = _check_beta(beta)
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.seed = seed
        self.beta = beta

    # The prior.
    def prior_log_prob(self, z):
        """log p(z) under N(0, I): z (..., latent_dim) -> (...), nats."""
        return losses.log_normal_pdf(z, 0.0, 0.0, raxis=-1)

    @property
    def standard_prior(self):
        """Whether the prior is the default N(0, I): what the closed-form KL terms assume."""
        return type(self).prior_log_prob is VAEBase.prior_log_prob

    @property
    def standard_posterior(self):
        """Whether q(z|x) is the default diagonal Gaussian of `encode(x)`: what the closed forms
        assume besides the prior."""
        return type(self).posterior_log_prob is VAEBase.posterior_log_prob

    def require_standard_prior(self, what):
        """Refuses `what` (a closed form against N(0, I), with q(z|x) the Gaussian of `encode`)
        for a model with another prior or posterior."""
        self.require_gaussian_posterior(what)
        if not self.standard_prior:
            raise ValueError(
                f"{what} is the closed form against the prior N(0, I), but "
                f"{type(self).__name__} has a prior of its own (it overrides prior_log_prob): "
                "use the Monte Carlo estimate, log q(z|x) - log p(z) at z ~ q(z|x), instead."
            )

    def require_gaussian_posterior(self, what):
        """Refuses `what` (a computation that takes q(z|x) to be the Gaussian of `encode`) for a
        model with a posterior of its own."""
        if not self.standard_posterior:
            raise ValueError(
                f"{what} takes q(z|x) to be the Gaussian of encode(x), but "
                f"{type(self).__name__} has a posterior of its own (it overrides posterior_log_prob): "
                "use an estimate from posterior_sample (IWAE, or log q(z|x) - log p(z) at z ~ q(z|x)) "
                "instead."
            )

    def scored_at(self, x, labels=None):
        """The model as `evaluation` scores the batch x with (labels: its labels, or None): the
        model itself. A conditional model returns itself at the batch's condition, its labels
        (`conditional.Given`) or its observed pixels (`completion.Observed`)."""
        if labels is not None:
            raise ValueError(f"{type(self).__name__} takes no labels: leave labels out.")
        return self

    # The posterior.
    def posterior_sample(self, x, num_samples=None, seed=None):
        """A reparameterised draw z ~ q(z|x) and log q(z|x) at it.

        Args:
          x: (batch, 28, 28, 1).
          num_samples: None for one z per image, or a positive int.
          seed: None (the model's own noise), an int or a `keras.random.SeedGenerator`.
        Returns:
          z (batch, latent_dim) and log q (batch,); or, with num_samples,
          (num_samples, batch, latent_dim) and (num_samples, batch).
        """
        mean, logvar = self.encode(x)
        seed = self.noise if seed is None else seed
        z = bounds.sample_q(mean, logvar, num_samples or 1, seed)
        log_q = losses.log_normal_pdf(z, mean, logvar, raxis=-1)
        return (z, log_q) if num_samples else (z[0], log_q[0])

    def posterior_log_prob(self, z, x):
        """log q(z|x) at given z: z (batch, latent_dim) or (num_samples, batch, latent_dim)
        -> (batch,) or (num_samples, batch), nats; x (batch, 28, 28, 1)."""
        mean, logvar = self.encode(x)
        return losses.log_normal_pdf(z, mean, logvar, raxis=-1)

    # The likelihood.
    def pixel_log_likelihood(self, x, logits):
        """log p(x|z) of each image from the decoder's logits: Bernoulli pixels, (batch,) nats."""
        return losses.bernoulli_log_likelihood(x, logits)

    def log_likelihood(self, x, z):
        """log p(x|z): x (batch, 28, 28, 1), z (batch, latent_dim) or (num_samples, batch,
        latent_dim) -> (batch,) or (num_samples, batch), nats, in z's dtype (the decoder computes
        in float32; a float64 z, an optimised q, gets a float64 answer back)."""
        z = tf.convert_to_tensor(z)
        dtype, single = z.dtype, z.shape.rank == 2
        z = z[None] if single else z
        num_samples, batch = tf.shape(z)[0], tf.shape(z)[1]
        # Row s * batch + b of the flattened z belongs to image b, so x repeats num_samples times.
        logits = self.decode_many(tf.reshape(z, (-1, self.latent_dim)))
        tiled = tf.tile(tf.convert_to_tensor(x, tf.float32), [num_samples, 1, 1, 1])
        log_p = tf.reshape(self.pixel_log_likelihood(tiled, logits), (num_samples, batch))
        return tf.cast(log_p[0] if single else log_p, dtype)

    def decode_many(self, z):
        """`decode(z)`, the logits (n, 28, 28, 1) of codes z (n, latent_dim), `DECODE_BATCH` codes
        at a time through a compiled copy of the decoder when called eagerly: the same numbers (to
        float32 rounding), in less time. Inside a compiled function it is `decode` itself."""
        z = tf.cast(z, tf.float32)
        if not tf.executing_eagerly():
            return self.decode(z)
        if z.shape.rank != 2 or z.shape[-1] != self.latent_dim:
            return self.decode(z)  # its own error names the shape it expects
        compiled = _compiled_decoders.get(self)
        if compiled is None:
            spec = tf.TensorSpec((None, self.latent_dim), tf.float32)
            compiled = _compiled_decoders[self] = tf.function(self.decode, input_signature=[spec])
        count = int(z.shape[0])
        if count <= DECODE_BATCH:
            return compiled(z)
        return tf.concat([compiled(z[start : start + DECODE_BATCH]) for start in range(0, count, DECODE_BATCH)],
                         axis=0)

    def inputs_of(self, batch):
        """What `terms` takes from a batch `fit` draws: (images,), or (images, labels) for a model
        that `uses_labels` (a batch of images alone is then refused)."""
        if not self.uses_labels:
            return (images_of(batch),)
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError(
                f"{type(self).__name__} needs each image's label: train it on (images, labels) "
                "batches, e.g. data.make_dataset(images, labels=labels)."
            )
        return tuple(batch)

    def check_images(self, x):
        """x of shape (batch, 28, 28, 1), pixels in [0, 1] -> a tensor of the model's dtype, or a
        ValueError that says how to reshape or rescale what was given.

        The pixels are checked by `data.check_pixel_range`, the check training makes of a first
        batch, when called eagerly (`encode` on an array); a compiled step skips it, since its
        batches were checked before training began."""
        x = tf.convert_to_tensor(x)
        if x.shape.rank != 4 or tuple(x.shape[1:]) != data.IMAGE_SHAPE:
            hint = ""
            if x.shape.rank == 3 and tuple(x.shape[1:]) == data.IMAGE_SHAPE[:2]:
                hint = " Add the channel axis with x[..., None]."
            elif x.shape.rank == 2 and x.shape[-1] == 784:
                hint = " Reshape flat rows with tf.reshape(x, (-1, 28, 28, 1))."
            raise ValueError(f"CVAE expects images of shape (batch, 28, 28, 1); got {tuple(x.shape)}.{hint}")
        if tf.executing_eagerly():
            data.check_pixel_range(x.numpy(), "The images given to encode")
        return tf.cast(x, self.compute_dtype)

    def require_beta_one(self, reason):
        """Refuses a beta other than 1 for a model whose objective sets the KL weight itself
        (chapter 9's cures), where it would be stored and ignored. A saved model's config holds
        beta = 1.0, so it still loads.

        Args:
          reason: what the model does instead, e.g. "ramps the KL weight from 0 to 1 itself".
        """
        if self.beta != 1.0:
            raise ValueError(
                f"{type(self).__name__} {reason}, so it has no use for beta; got beta={self.beta!r}. "
                "Leave beta out, or train models.CVAE(latent_dim, beta=...) for a fixed KL weight."
            )

    def check_latents(self, z):
        """z of shape (batch, latent_dim) -> a tensor of the model's compute dtype, or a
        ValueError. Cast, not converted with a dtype: under a mixed-precision policy the model
        computes in bfloat16 or float16 while z from numpy or the prior is float32."""
        z = tf.cast(tf.convert_to_tensor(z), self.compute_dtype)
        if z.shape.rank != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"decode expects z of shape (batch, {self.latent_dim}); got {tuple(z.shape)}."
            )
        return z

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, seed=self.seed, beta=self.beta)
        return config


def images_of(batch):
    """The images of what `fit` takes from a dataset: a batch of images, or (images, labels)."""
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def _check_latent_dim(latent_dim):
    if not config.is_integer(latent_dim, 1):
        raise ValueError(
            f"latent_dim must be a positive integer (the tutorial uses 2); got {latent_dim!r}."
        )
    return int(latent_dim)


def _check_beta(beta):
    if isinstance(beta, bool) or not isinstance(beta, (int, float, np.integer, np.floating)) or not beta >= 0:
        raise ValueError(f"beta must be a non-negative number (1.0 is the ELBO); got {beta!r}.")
    if not np.isfinite(beta):
        raise ValueError(f"beta must be finite; got {beta!r}.")
    return float(beta)
