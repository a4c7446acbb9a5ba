"""The convolutional VAE of TensorFlow's CVAE tutorial, as a Keras 3 model that fits and saves.

Chapter 3 shows `make_encoder`, `make_decoder` and every line of `CVAE`: its cells hold the same text
as this file (tests/test_shown_code.py checks; `python tools/shown_code.py` copies a change here into
the chapter). The model contract (prior, posterior and likelihood as named parts), checks of
arguments and inputs, and saving live in `models.base`, out of the way.
"""

import keras
import tensorflow as tf

from vae_helpers import data, losses, models


def make_encoder(latent_dim, channels=1):
    """x (batch, 28, 28, c) -> [mean, logvar], (batch, 2 * latent_dim).
    c = channels: 1 for an image; a conditional VAE adds one per label."""
    return keras.Sequential(
        [
            keras.Input(shape=(*data.IMAGE_SHAPE[:2], channels)),
            # 28x28x1 -> 13x13x32 -> 6x6x64: stride 2, no padding.
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),
            keras.layers.Conv2D(64, 3, strides=2, activation="relu"),
            keras.layers.Flatten(),  # 6x6x64 -> 2304
            # No activation: a mean and a log-variance can be any number.
            keras.layers.Dense(2 * latent_dim),  # 2304 -> [mean, logvar]
        ],
        name="encoder",
    )


def make_decoder(latent_dim):
    """z (batch, latent_dim) -> Bernoulli logits (batch, 28, 28, 1)."""
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(7 * 7 * 32, activation="relu"),  # -> 1568
            keras.layers.Reshape((7, 7, 32)),
            # 7x7 -> 14x14 -> 28x28: stride 2, "same" padding.
            keras.layers.Conv2DTranspose(
                64, 3, strides=2, padding="same", activation="relu"
            ),
            keras.layers.Conv2DTranspose(
                32, 3, strides=2, padding="same", activation="relu"
            ),
            # No activation: logits, for the stable sigmoid cross-entropy.
            keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same"),
        ],
        name="decoder",
    )


class CVAE(models.VAEBase):
    """Convolutional variational autoencoder: the TF tutorial's, in Keras 3.

    Args:
      latent_dim: positive int, the size of z.
      seed: seeds the noise of `reparameterize` and `sample` (None: from
        Keras' global seed).
      beta: the weight of the KL term in the training loss. 1.0 (the
        default) trains on the ELBO itself; the "elbo" metric is always the
        true ELBO.
    """

    def __init__(self, latent_dim, seed=None, beta=1.0, **kwargs):
        # The base class checks the three arguments, keeps them for saving.
        super().__init__(latent_dim, seed=seed, beta=beta, **kwargs)
        self.encoder = make_encoder(self.latent_dim)
        self.decoder = make_decoder(self.latent_dim)
        # The model's own random stream: seeded, and one state variable that
        # training's checkpoints store, so a resumed run draws as it would.
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "elbo", "reconstruction_loss", "kl_loss")
        }
        # Both halves are built from their Input shapes, so the model is
        # too: saying so lets load_model restore weights with no dummy call.
        self.built = True

    @property
    def metrics(self):
        # Listed here, the trackers are reset by Keras as each epoch starts.
        return list(self.trackers.values())

    def encode(self, x):
        """x (batch, 28, 28, 1) -> mean, logvar, each (batch, latent_dim)."""
        x = self.check_images(x)
        # One Dense layer gave 2 * latent_dim numbers: the first half is the
        # mean, the second the log-variance.
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar):
        """z = mean + exp(logvar / 2) * eps with eps ~ N(0, I): a draw of
        q(z|x) that gradients flow through. (batch, latent_dim) in and out."""
        eps = keras.random.normal(
            tf.shape(mean), seed=self.noise, dtype=mean.dtype
        )
        return eps * tf.exp(logvar * 0.5) + mean

    def decode(self, z, apply_sigmoid=False):
        """z (batch, latent_dim) -> logits (batch, 28, 28, 1), or pixel
        probabilities if `apply_sigmoid`."""
        logits = self.decoder(self.check_latents(z))
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def sample(self, z=None):
        """Decodes prior draws z ~ N(0, I) to pixel probabilities.

        Args:
          z: (num_samples, latent_dim) codes to decode; None draws 100,
            as the tutorial does.
        Returns:
          Tensor of shape (num_samples, 28, 28, 1), values in (0, 1).
        """
        if z is None:
            z = keras.random.normal((100, self.latent_dim), seed=self.noise)
        return self.decode(z, apply_sigmoid=True)

    def call(self, x):
        """x (batch, 28, 28, 1) -> reconstruction logits of the same shape,
        through one z ~ q(z|x)."""
        mean, logvar = self.encode(x)
        return self.decode(self.reparameterize(mean, logvar))

    def objective(self, terms):
        """Minus the beta-weighted ELBO of each image, shape (batch,).

        With beta = 1 it is exactly -terms["elbo"]; `terms` is what
        `losses.elbo_terms` returns."""
        return -(terms["reconstruction"] - self.beta * terms["kl"])

    def terms(self, x):
        """The per-image terms of the ELBO of a batch: `losses.elbo_terms`,
        which asks the model for its prior and likelihood (`models.base`)."""
        return losses.elbo_terms(self, x)

    def train_step(self, data):
        """One optimizer step on a batch; `fit` calls it once per batch.

        Args:
          data: the batch `fit` takes from the dataset: 0/1 images of shape
            (batch, 28, 28, 1), or an (images, labels) pair (labels unused
            unless the model `uses_labels`).
        Returns:
          The metrics' running means over the epoch so far, nats per image:
          {"loss", "elbo", "reconstruction_loss", "kl_loss"}, each a scalar.
        """
        inputs = self.inputs_of(data)  # (images,), or (images, labels)
        with tf.GradientTape() as tape:
            terms = self.terms(*inputs)
            # Sum over images / GLOBAL batch size. Under tf.distribute each
            # replica holds a slice of the batch and the replicas' gradients
            # are summed: a per-slice mean would step N times too far.
            loss = tf.nn.compute_average_loss(self.objective(terms))
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self.record(terms)

    def test_step(self, data):
        """The terms of a batch, with no update (`evaluate`, and `fit` on its
        validation data). Args and returns as `train_step`."""
        return self.record(self.terms(*self.inputs_of(data)))

    def record(self, terms):
        """Adds a batch's per-image terms to the running means; returns them."""
        # One update per image, so an epoch's means are exact per-image means
        # whatever the size of the last batch.
        self.trackers["loss"].update_state(self.objective(terms))
        self.trackers["elbo"].update_state(terms["elbo"])
        self.trackers["reconstruction_loss"].update_state(
            -terms["reconstruction"]
        )
        self.trackers["kl_loss"].update_state(terms["kl"])
        return {name: t.result() for name, t in self.trackers.items()}


# Registered here, not with a decorator, so that the class the chapter defines
# on the page does not replace this one in Keras' registry.
keras.saving.register_keras_serializable(package="vae_helpers")(CVAE)
