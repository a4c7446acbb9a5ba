"""The convolutional VAE of TensorFlow's CVAE tutorial, as a Keras 3 model that fits and saves."""

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import losses

IMAGE_SHAPE = (28, 28, 1)
NUM_PRIOR_SAMPLES = 100


def _check_latent_dim(latent_dim):
    if isinstance(latent_dim, bool) or not isinstance(latent_dim, (int, np.integer)) or latent_dim <= 0:
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


def make_encoder(latent_dim):
    """x (batch, 28, 28, 1) -> concatenated [mean, logvar] (batch, 2 * latent_dim)."""
    return keras.Sequential(
        [
            keras.Input(shape=IMAGE_SHAPE),
            keras.layers.Conv2D(32, 3, strides=2, activation="relu"),  # 28x28x1 -> 13x13x32
            keras.layers.Conv2D(64, 3, strides=2, activation="relu"),  # 13x13x32 -> 6x6x64
            keras.layers.Flatten(),  # 6x6x64 -> 2304
            # No activation: a mean and a log-variance can be any real number.
            keras.layers.Dense(2 * latent_dim),  # 2304 -> [mean, logvar]
        ],
        name="encoder",
    )


def make_decoder(latent_dim):
    """z (batch, latent_dim) -> Bernoulli logits (batch, 28, 28, 1)."""
    return keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            keras.layers.Dense(7 * 7 * 32, activation="relu"),  # latent_dim -> 1568
            keras.layers.Reshape((7, 7, 32)),  # 1568 -> 7x7x32
            keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),  # -> 14x14x64
            keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),  # -> 28x28x32
            # No activation: logits, so the loss can use the stable sigmoid cross-entropy.
            keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same"),  # -> 28x28x1
        ],
        name="decoder",
    )


@keras.saving.register_keras_serializable(package="vae_helpers")
class CVAE(keras.Model):
    """Convolutional variational autoencoder.

    Args:
      latent_dim: positive int, the size of z.
      seed: seeds the noise of `reparameterize` and `sample` (None: from Keras' global seed).
      beta: the weight of the KL term in the training loss, -(reconstruction - beta * KL).
        1.0 (the default) trains on the ELBO itself; the "elbo" metric is always the true ELBO.
    """

    def __init__(self, latent_dim, seed=None, beta=1.0, **kwargs):
        latent_dim = _check_latent_dim(latent_dim)
        beta = _check_beta(beta)
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.seed = seed
        self.beta = beta
        self.encoder = make_encoder(latent_dim)
        self.decoder = make_decoder(latent_dim)
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "elbo", "reconstruction_loss", "kl_loss")
        }
        # Both halves are built from their Input shapes, so the whole model is: saying so lets
        # `save` and `load_model` restore weights and optimizer state without a dummy call first.
        self.built = True

    def encode(self, x):
        """x (batch, 28, 28, 1) -> mean, logvar, each (batch, latent_dim)."""
        x = self._check_images(x)
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar):
        """z = mean + exp(logvar / 2) * eps with eps ~ N(0, I): a sample of q(z|x) that gradients
        flow through. Shapes: (batch, latent_dim) in and out."""
        eps = keras.random.normal(tf.shape(mean), seed=self.noise, dtype=mean.dtype)
        return eps * tf.exp(logvar * 0.5) + mean

    def decode(self, z, apply_sigmoid=False):
        """z (batch, latent_dim) -> logits, or pixel probabilities if `apply_sigmoid`, (batch, 28, 28, 1)."""
        z = tf.convert_to_tensor(z, dtype=self.compute_dtype)
        if z.shape.rank != 2 or z.shape[-1] != self.latent_dim:
            raise ValueError(
                f"decode expects z of shape (batch, {self.latent_dim}); got {tuple(z.shape)}."
            )
        logits = self.decoder(z)
        return tf.sigmoid(logits) if apply_sigmoid else logits

    def sample(self, eps=None):
        """Decodes prior draws z ~ N(0, I) to pixel probabilities.

        Args:
          eps: (num_samples, latent_dim) draws to decode; None draws 100 new ones.
        Returns:
          Tensor of shape (num_samples, 28, 28, 1), values in (0, 1).
        """
        if eps is None:
            eps = keras.random.normal((NUM_PRIOR_SAMPLES, self.latent_dim), seed=self.noise)
        return self.decode(eps, apply_sigmoid=True)

    def call(self, x):
        """x (batch, 28, 28, 1) -> reconstruction logits (batch, 28, 28, 1) through one z ~ q(z|x)."""
        mean, logvar = self.encode(x)
        return self.decode(self.reparameterize(mean, logvar))

    @property
    def metrics(self):
        # Listing the trackers here lets Keras reset them at the start of each epoch.
        return list(self.trackers.values())

    def train_step(self, data):
        x = _images_of(data)
        with tf.GradientTape() as tape:
            terms = losses.elbo_terms(self, x)
            loss = tf.reduce_mean(self._objective(terms))
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._record(terms)

    def test_step(self, data):
        return self._record(losses.elbo_terms(self, _images_of(data)))

    def _objective(self, terms):
        """Minus the beta-weighted ELBO, shape (batch,); with beta = 1 it is exactly -terms["elbo"]."""
        return -(terms["reconstruction"] - self.beta * terms["kl"])

    def _record(self, terms):
        # Per-example updates, so that an epoch's "loss" (minus the ELBO when beta = 1) is exact
        # whatever the size of the last batch.
        self.trackers["loss"].update_state(self._objective(terms))
        self.trackers["elbo"].update_state(terms["elbo"])
        self.trackers["reconstruction_loss"].update_state(-terms["reconstruction"])
        self.trackers["kl_loss"].update_state(terms["kl"])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def _check_images(self, x):
        x = tf.convert_to_tensor(x)
        if x.shape.rank != 4 or tuple(x.shape[1:]) != IMAGE_SHAPE:
            hint = ""
            if x.shape.rank == 3 and tuple(x.shape[1:]) == IMAGE_SHAPE[:2]:
                hint = " Add the channel axis with x[..., None]."
            elif x.shape.rank == 2 and x.shape[-1] == 784:
                hint = " Reshape flat rows with tf.reshape(x, (-1, 28, 28, 1))."
            raise ValueError(f"CVAE expects images of shape (batch, 28, 28, 1); got {tuple(x.shape)}.{hint}")
        return tf.cast(x, self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config.update(latent_dim=self.latent_dim, seed=self.seed, beta=self.beta)
        return config


def _images_of(data):
    # `fit` passes whatever the dataset yields: a batch of images, or (images, labels) pairs.
    return data[0] if isinstance(data, (tuple, list)) else data
