"""When labels exist: Sohn et al.'s (2015) conditional VAE on the book's convolutional model.

The encoder sees the image and its digit, q(z|x, y); the decoder draws the image of a digit,
p(x|z, y); the prior stays p(z) = N(0, I) for every digit. The ELBO of chapter 2 holds for each
fixed y, so the conditional ELBO is `losses.elbo_terms` of the model with y fixed:

    log p(x|y) >= E_q(z|x,y)[log p(x|z, y)] - KL(q(z|x, y) || p(z)).

z then needs to carry only what the label does not (the style), and `sample(labels, z)` draws
the digit asked for. Chapter 12 shows `ConditionalVAE` line by line (tests/test_shown_code.py).
"""

import keras
import tensorflow as tf

from vae_helpers import data, losses, models


class ConditionalVAE(models.CVAE):
    """The book's CVAE with the digit as a second input to both halves.

    The encoder takes the one-hot label as ten more channels, the same
    at every pixel; the decoder takes it as ten more inputs beside z.
    Training batches are (images, labels) pairs (`uses_labels`;
    `runs.train_model` makes them). Args: as for `models.CVAE`.
    """

    uses_labels = True

    def __init__(self, latent_dim, seed=None, beta=1.0, **kwargs):
        # The base's checks, not CVAE's constructor: its halves are blind
        # to the label, and Keras keeps tracking a half that is replaced.
        models.VAEBase.__init__(self, latent_dim, seed=seed, beta=beta,
                                **kwargs)
        labels = data.NUM_CLASSES
        self.encoder = models.make_encoder(self.latent_dim,
                                           channels=1 + labels)
        self.decoder = models.make_decoder(self.latent_dim + labels)
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "elbo", "reconstruction_loss", "kl_loss")
        }
        self.built = True

    def one_hot(self, labels):
        """labels (batch,) ints 0-9 -> (batch, 10), the compute dtype."""
        if tf.executing_eagerly():  # a compiled step's batches were checked
            labels = data.check_labels(labels)
        return tf.one_hot(labels, data.NUM_CLASSES,
                          dtype=self.compute_dtype)

    def encode(self, x, labels):
        """x (batch, 28, 28, 1), labels (batch,) -> mean, logvar of
        q(z|x, y), each (batch, latent_dim)."""
        x = self.check_images(x)
        # The label as ten channels, constant over the image.
        maps = tf.ones_like(x) * self.one_hot(labels)[:, None, None, :]
        both = tf.concat([x, maps], axis=-1)  # (batch, 28, 28, 11)
        mean, logvar = tf.split(self.encoder(both), 2, axis=1)
        return mean, logvar

    def decode(self, z, labels, apply_sigmoid=False):
        """z (batch, latent_dim), labels (batch,) -> logits of p(x|z, y),
        (batch, 28, 28, 1), or pixel probabilities if `apply_sigmoid`."""
        z, y = self.check_latents(z), self.one_hot(labels)
        if tf.executing_eagerly() and y.shape[0] != z.shape[0]:
            raise ValueError(f"decode needs one label per code: "
                             f"{z.shape[0]} codes, {y.shape[0]} labels.")
        logits = self.decoder(tf.concat([z, y], axis=1))
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def sample(self, labels, z=None):
        """Draws the digits asked for.

        Args:
          labels: (N,) ints 0-9, the digit of each sample.
          z: (N, latent_dim) codes (the same z under two labels: one
            style, two digits), or None to draw z ~ N(0, I).
        Returns:
          Pixel probabilities (N, 28, 28, 1).
        """
        labels = data.check_labels(labels)
        if z is None:
            z = keras.random.normal((len(labels), self.latent_dim),
                                    seed=self.noise)
        return self.decode(z, labels, apply_sigmoid=True)

    def call(self, inputs):
        """(images, labels) -> reconstruction logits (batch, 28, 28, 1)
        through one z ~ q(z|x, y)."""
        x, labels = inputs
        z = self.reparameterize(*self.encode(x, labels))
        return self.decode(z, labels)

    def scored_at(self, x, labels=None):
        """The model at the batch's labels (`Given`), whose bounds are on log p(x|y)."""
        if labels is None:
            raise ValueError(f"{type(self).__name__} needs each image's label: pass labels=mnist.test_labels[:N], "
                             "one digit per image; the bound is then on log p(x|y).")
        return Given(self, labels)

    def terms(self, x, labels, kl="monte_carlo"):
        """The conditional ELBO's terms of each image, (batch,) each:
        chapter 4's `losses.elbo_terms` with y fixed to `labels`."""
        return losses.elbo_terms(Given(self, labels), x, kl=kl)


class Given:
    """A conditional model with its labels fixed: the encoder and decoder
    `losses.elbo_terms` asks for, q(z|x, y) and p(x|z, y) at these y."""

    def __init__(self, model, labels):
        self.model, self.labels = model, labels

    def encode(self, x):
        return self.model.encode(x, self.labels)

    def decode(self, z):
        return self.model.decode(z, self.labels)

    def __getattr__(self, name):
        # The rest is the model's: reparameterize, the prior, the pixels.
        return getattr(self.model, name)

    # The contract's posterior and likelihood at these labels, for `evaluation` (IWAE of
    # log p(x|y)): the base's definitions, reading this view's encode and decode_many.
    def posterior_sample(self, x, num_samples=None, seed=None):
        return models.VAEBase.posterior_sample(self, x, num_samples, seed)

    def posterior_log_prob(self, z, x):
        return models.VAEBase.posterior_log_prob(self, z, x)

    def log_likelihood(self, x, z):
        return models.VAEBase.log_likelihood(self, x, z)

    def decode_many(self, z):
        """Logits of codes z (num_samples * batch, d), row s * batch + n decoded at label n (as
        `VAEBase.log_likelihood` flattens num_samples copies of the batch)."""
        labels = tf.convert_to_tensor(self.labels)
        copies = tf.shape(z)[0] // tf.shape(labels)[0]
        return self.model.decode(tf.cast(z, tf.float32), tf.tile(labels, [copies]))


keras.saving.register_keras_serializable(package="vae_helpers")(ConditionalVAE)
