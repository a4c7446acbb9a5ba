"""Completing a half-seen digit (issue 7/8, for chapter 12's next section): Sohn et al.'s (2015)
conditional VAE for structured outputs, on Pyro's task (`cvae.ipynb`), with a deterministic
baseline.

The condition is the observed part of the image, x_o (one, two or three of its quadrants); the
output is the rest, x_h. The model has a prior network p(z | x_o), a recognition network
q(z | x_o, x_h) (the whole image) and a decoder p(x_h | z), and the bound

    log p(x_h | x_o) >= E_q[log p(x_h | z)] - KL(q(z | x) || p(z | x_o)).

`scored_at(x)` gives the model at a batch's observed pixels (`Observed`), so that
`evaluation.iwae` bounds log p(x_h | x_o) by importance sampling with q as the proposal.
"""

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, data, losses, models

QUADRANTS = ("bottom left", "bottom right", "top right", "top left")
"""The order in which quadrants are observed: `observed` = 1 shows the first, 2 the bottom half,
3 all but the top left (Pyro's order)."""


def observed_mask(observed):
    """(28, 28, 1) float32: 1 at the pixels of the first `observed` quadrants of `QUADRANTS`."""
    observed = config.positive_int("observed", observed)
    if observed > 3:
        raise ValueError(f"observed must be 1, 2 or 3 quadrants (4 would leave nothing to complete); got {observed}.")
    mask = np.zeros(data.IMAGE_SHAPE, np.float32)
    half = data.IMAGE_SHAPE[0] // 2
    corners = {"bottom left": (slice(half, None), slice(None, half)),
               "bottom right": (slice(half, None), slice(half, None)),
               "top right": (slice(None, half), slice(half, None)),
               "top left": (slice(None, half), slice(None, half))}
    for name in QUADRANTS[:observed]:
        mask[corners[name]] = 1.0
    return mask


def masked_input(x, mask):
    """What the prior network and the baseline see: the observed pixels and the mask itself,
    (batch, 28, 28, 2), so that a hidden pixel is not mistaken for a white one."""
    mask = tf.broadcast_to(tf.cast(mask, x.dtype), tf.shape(x))
    return tf.concat([x * mask, mask], axis=-1)


def hidden_log_likelihood(x, logits, mask):
    """log p(x_h | ...) of each image: the Bernoulli log-probability of the hidden pixels alone,
    x and logits (batch, 28, 28, 1) -> (batch,) nats."""
    per_pixel = -tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(x, tf.float32),
                                                         logits=tf.cast(logits, tf.float32))
    return tf.reduce_sum(per_pixel * (1.0 - mask), axis=[1, 2, 3])


class CompletionCVAE(models.CVAE):
    """The book's CVAE as a completer: prior network p(z | x_o), recognition network q(z | x)
    (the book's encoder, on the whole image), decoder p(x_h | z) scored on the hidden pixels.

    Args:
      latent_dim, seed: as for `models.CVAE`.
      observed: 1, 2 or 3, the quadrants seen (`QUADRANTS`).
    """

    likelihood = "bernoulli"  # of 0/1 pixels: evaluation and training check the images so

    def __init__(self, latent_dim, observed=2, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.require_beta_one("fits its own conditional prior")
        self.observed = int(observed)
        self.mask = tf.constant(observed_mask(self.observed))
        self.prior_network = models.make_encoder(self.latent_dim, channels=2)

    def conditional_prior(self, x):
        """mean, logvar of p(z | x_o) for images x (batch, 28, 28, 1), each (batch, latent_dim)."""
        mean, logvar = tf.split(self.prior_network(masked_input(self.check_images(x), self.mask)), 2, axis=1)
        return mean, logvar

    def prior_log_prob(self, z):
        """There is no prior without the observed pixels: p(z | x_o) is `scored_at(x)`'s."""
        raise ValueError("CompletionCVAE's prior is p(z | x_o), which needs the observed pixels: score a "
                         "batch x through model.scored_at(x) (evaluation.iwae does), or draw with complete(x).")

    def complete(self, x, z=None):
        """Completions of images x (N, 28, 28, 1): the observed pixels kept, the hidden ones the
        decoder's probabilities at z ~ p(z | x_o) (or at given z, (N, latent_dim))."""
        x = self.check_images(x)
        if z is None:
            mean, logvar = self.conditional_prior(x)
            z = self.reparameterize(mean, logvar)
        return x * self.mask + self.decode(z, apply_sigmoid=True) * (1.0 - self.mask)

    def pixel_log_likelihood(self, x, logits):
        """log p(x_h | z): the hidden pixels only, (batch,) nats."""
        return hidden_log_likelihood(x, logits, self.mask)

    def terms(self, x):
        """The bound on log p(x_h | x_o) of each image at one z ~ q(z | x): "reconstruction",
        log p(x_h | z); "kl", KL(q(z | x) || p(z | x_o)) in closed form (two Gaussians); "elbo"."""
        mean, logvar = self.encode(x)
        prior_mean, prior_logvar = self.conditional_prior(x)
        z = self.reparameterize(mean, logvar)
        reconstruction = self.pixel_log_likelihood(x, self.decode(z))
        kl = 0.5 * tf.reduce_sum(prior_logvar - logvar + (tf.exp(logvar) + (mean - prior_mean) ** 2)
                                 / tf.exp(prior_logvar) - 1.0, axis=1)
        return {"reconstruction": reconstruction, "kl": kl, "elbo": reconstruction - kl}

    def scored_at(self, x, labels=None):
        """The model at the observed pixels of the batch x: its prior is p(z | x_o)."""
        if labels is not None:
            raise ValueError("CompletionCVAE takes no labels: leave labels out.")
        return Observed(self, x)

    def get_config(self):
        return {**super().get_config(), "observed": self.observed}


class Observed:
    """A `CompletionCVAE` with its condition fixed at a batch's observed pixels: the prior
    `prior_log_prob(z)` is p(z | x_o) of those images; everything else is the model's."""

    def __init__(self, model, x):
        self.model = model
        self.prior_mean, self.prior_logvar = model.conditional_prior(x)

    def prior_log_prob(self, z):
        """log p(z | x_o): z (batch, d) or (num_samples, batch, d) -> (batch,) or (num_samples, batch)."""
        z = tf.convert_to_tensor(z)
        return losses.log_normal_pdf(z, tf.cast(self.prior_mean, z.dtype), tf.cast(self.prior_logvar, z.dtype),
                                     raxis=-1)

    def __getattr__(self, name):
        return getattr(self.model, name)


class CompletionBaseline(keras.Model):
    """Pyro's deterministic baseline: a network from the observed pixels to the logits of every
    pixel, trained on the hidden ones by cross-entropy. log p(x_h | x_o) is then exact: the
    Bernoulli log-probability of the hidden pixels under its logits.

    Args:
      observed: 1, 2 or 3, the quadrants seen.
    """

    def __init__(self, observed=2, latent_dim=16, **kwargs):
        super().__init__(**kwargs)
        self.observed, self.latent_dim = int(observed), int(latent_dim)
        self.mask = tf.constant(observed_mask(self.observed))
        # The book's encoder and decoder back to back: no noise, no KL.
        self.network = keras.Sequential([models.make_encoder(self.latent_dim, channels=2),
                                         models.make_decoder(2 * self.latent_dim)])

    def call(self, x):
        """x (batch, 28, 28, 1) -> logits of every pixel, (batch, 28, 28, 1)."""
        return self.network(masked_input(tf.cast(x, tf.float32), self.mask))

    def log_likelihood(self, x):
        """log p(x_h | x_o) of each image, (batch,) nats: exact for a deterministic network."""
        return hidden_log_likelihood(x, self(x), self.mask)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.log_likelihood(x))
        self.optimizer.apply(tape.gradient(loss, self.trainable_weights), self.trainable_weights)
        return {"loss": loss}

    def get_config(self):
        return {**super().get_config(), "observed": self.observed, "latent_dim": self.latent_dim}


for _cls in (CompletionCVAE, CompletionBaseline):
    keras.saving.register_keras_serializable(package="vae_helpers")(_cls)
