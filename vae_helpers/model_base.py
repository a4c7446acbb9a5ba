"""What `models.CVAE` needs but does not teach: checks of its arguments and inputs, and saving.

Kept out of the class that chapter 3 shows, so that the class reads like TensorFlow's tutorial
(plus `train_step` and `test_step`) while bad input still meets an error that names the fix.
"""

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, data


class VAEBase(keras.Model):
    """Checks and stores the constructor's arguments, checks inputs, and saves them in the config.

    Args:
      latent_dim: positive int, the size of z.
      seed: seeds the model's noise (None: from Keras' global seed).
      beta: non-negative finite number, the weight of the KL term in the training loss.
    """

    def __init__(self, latent_dim, seed=None, beta=1.0, **kwargs):
        latent_dim = _check_latent_dim(latent_dim)
        beta = _check_beta(beta)
        super().__init__(**kwargs)
        self.latent_dim = latent_dim
        self.seed = seed
        self.beta = beta

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
