"""Learned priors on the book's CVAE (issue 8/8, for a chapter to come): a mixture of Gaussians,
and Tomczak & Welling's (2018) VampPrior, the average of the encoder's posteriors at K learned
pseudo-inputs. Each overrides `prior_log_prob` alone (the contract of `models.base`), so training,
IWAE and the aggregate posterior's measures use it unchanged; the closed-form KL against N(0, I)
is refused for them."""

import math

import keras
import tensorflow as tf

from vae_helpers import data, losses, models


class MixturePriorCVAE(models.CVAE):
    """The CVAE with a learned prior: a mixture of `components` Gaussians."""

    def __init__(self, latent_dim, components=10, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.components = components
        spread = keras.initializers.RandomNormal(seed=seed)
        shape = (components, self.latent_dim)
        self.prior_means = self.add_weight(shape=shape, initializer=spread)
        self.prior_logvars = self.add_weight(shape=shape, initializer="zeros")
        self.prior_logits = self.add_weight(shape=(components,), initializer="zeros")

    def prior_log_prob(self, z):
        # (..., 1, d) against (K, d): every component's log-density, (..., K).
        z = tf.convert_to_tensor(z)[..., None, :]
        log_components = losses.log_normal_pdf(z, self.prior_means, self.prior_logvars, raxis=-1)
        log_weights = tf.cast(tf.nn.log_softmax(self.prior_logits), z.dtype)
        return tf.reduce_logsumexp(log_components + log_weights, axis=-1)

    def get_config(self):
        return {**super().get_config(), "components": self.components}


class VampPriorCVAE(models.CVAE):
    """The CVAE with the VampPrior: p(z) = (1/K) sum_k q(z | u_k), the encoder's own posteriors
    at K pseudo-inputs u_k, images the model learns (pixels kept in (0, 1) by a sigmoid).

    Args:
      latent_dim, seed: as for `models.CVAE`.
      pseudo_inputs: positive int K (Tomczak & Welling use 500 on MNIST).
    """

    def __init__(self, latent_dim, pseudo_inputs=50, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.pseudo_inputs = int(pseudo_inputs)
        if self.pseudo_inputs < 1:
            raise ValueError(f"pseudo_inputs must be a positive int; got {pseudo_inputs!r}.")
        # Logits of the pseudo-inputs' pixels: small, so they start near grey 0.5.
        self.pseudo_logits = self.add_weight(
            shape=(self.pseudo_inputs, *data.IMAGE_SHAPE),
            initializer=keras.initializers.RandomNormal(stddev=0.1, seed=seed))

    def pseudo_images(self):
        """The K pseudo-inputs u_k, (K, 28, 28, 1) in (0, 1)."""
        return tf.sigmoid(self.pseudo_logits)

    def prior_log_prob(self, z):
        """log (1/K) sum_k N(z; mean_k, var_k), the encoder's posteriors at the pseudo-inputs:
        z (..., latent_dim) -> (...), nats."""
        z = tf.convert_to_tensor(z)
        mean, logvar = (tf.cast(t, z.dtype) for t in self.encode(self.pseudo_images()))
        log_components = losses.log_normal_pdf(z[..., None, :], mean, logvar, raxis=-1)  # (..., K)
        return tf.reduce_logsumexp(log_components, axis=-1) - math.log(self.pseudo_inputs)

    def get_config(self):
        return {**super().get_config(), "pseudo_inputs": self.pseudo_inputs}


for _cls in (MixturePriorCVAE, VampPriorCVAE):
    keras.saving.register_keras_serializable(package="vae_helpers")(_cls)
