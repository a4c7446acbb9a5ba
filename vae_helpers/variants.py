"""CVAE variants that change more than the weight of the KL term, and how chapter 9 trains them.

`models.CVAE.train_step` scores a batch with `losses.elbo_terms`, which knows one likelihood
(Bernoulli) and the total KL only. `TermsCVAE` takes the terms from one overridable method,
`terms(x)`, that also returns each dimension's KL and calls the model's own `log_likelihood`:
free bits (`cures.FreeBitsCVAE`) and other pixel likelihoods (`LikelihoodCVAE`) build on it.

`train` trains a variant on the recipe of `runs.book_model` (same data, batch size, epochs,
learning rate, seed), with a checkpoint named by the variant's settings.
"""

import os

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, data, likelihoods, losses, model_base, models
from vae_helpers import runs, training


def elbo_terms(model, x):
    """`losses.elbo_terms` with the model's own likelihood and each dimension's KL.

    Args:
      model: has `encode`, `reparameterize`, `decode` and `log_likelihood(x, logits)`.
      x: float tensor (batch, 28, 28, 1), pixels in [0, 1].
    Returns:
      Dict of tensors, nats: "reconstruction", "kl", "elbo" of shape (batch,) exactly as
      `losses.elbo_terms` computes them (one z per image, Monte Carlo KL), and
      "kl_per_dimension" of shape (batch, latent_dim), the analytic KL of each dimension.
    """
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar)
    reconstruction = model.log_likelihood(x, model.decode(z))
    kl = losses.log_normal_pdf(z, mean, logvar) - losses.log_normal_pdf(z, 0.0, 0.0)
    return {
        "reconstruction": reconstruction,
        "kl": kl,
        "elbo": reconstruction - kl,
        "kl_per_dimension": losses.analytic_kl_per_dimension(mean, logvar),
    }


class TermsCVAE(models.CVAE):
    """A `models.CVAE` whose steps take the per-image terms from `self.terms(x)`.

    The steps are `models.CVAE`'s with `losses.elbo_terms(self, x)` replaced by `self.terms(x)`:
    the hook that `models.CVAE` would need for this module to shrink to its overrides.
    """

    def log_likelihood(self, x, logits):
        """log p(x|z) of each image (batch,) from the decoder's logits: Bernoulli here."""
        return likelihoods.bernoulli(x, logits)

    def terms(self, x):
        """The per-image terms of a batch: see `elbo_terms`."""
        return elbo_terms(self, x)

    def train_step(self, data):
        x = model_base.images_of(data)
        with tf.GradientTape() as tape:
            terms = self.terms(x)
            loss = tf.nn.compute_average_loss(self.objective(terms))
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self.record(terms)

    def test_step(self, data):
        return self.record(self.terms(model_base.images_of(data)))


class LikelihoodCVAE(TermsCVAE):
    """The CVAE with another pixel likelihood, for grey-level images.

    Args:
      latent_dim, seed: as for `models.CVAE`.
      likelihood: one of `likelihoods.LIKELIHOODS`. "gaussian" learns one standard deviation
        shared by all pixels (`log_scale`, starting at 0: sigma = 1).
    """

    def __init__(self, latent_dim, likelihood, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.likelihood = likelihoods.check_name(likelihood)
        if self.likelihood == "gaussian":
            self.log_scale = self.add_weight(
                shape=(), initializer="zeros", name="log_scale"
            )

    def log_likelihood(self, x, logits):
        if self.likelihood == "continuous_bernoulli":
            return likelihoods.continuous_bernoulli(x, logits)
        if self.likelihood == "gaussian":
            return likelihoods.gaussian(x, logits, self.log_scale)
        return likelihoods.bernoulli(x, logits)

    def pixel_mean(self, logits):
        """E[x|z] of each pixel (batch, 28, 28, 1) from the logits: what a picture shows."""
        if self.likelihood == "continuous_bernoulli":
            return likelihoods.continuous_bernoulli_mean(logits)
        return tf.sigmoid(logits)

    def decode(self, z, apply_sigmoid=False):
        """As `models.CVAE.decode`; `apply_sigmoid` gives each pixel's mean under
        this likelihood (the continuous Bernoulli's is not sigmoid(logits))."""
        logits = super().decode(z)
        return self.pixel_mean(logits) if apply_sigmoid else logits

    def get_config(self):
        return {**super().get_config(), "likelihood": self.likelihood}


keras.saving.register_keras_serializable(package="vae_helpers")(TermsCVAE)
keras.saving.register_keras_serializable(package="vae_helpers")(LikelihoodCVAE)

PIXELS = ("binary", "grey")


def test_images(mnist, pixels="binary"):
    """The test set a variant is scored on: `runs.test_images` (fixed 0/1 draws), or the same
    images' grey levels. float32 (N, 28, 28, 1)."""
    binary = runs.test_images(mnist)
    if _check_pixels(pixels) == "binary":
        return binary
    return mnist.test_images[: len(binary)]


def run_name(mnist, model, tag, pixels="binary"):
    """Checkpoint file name of a variant, e.g. "cvae-latent16-freebits0.25-binary-bundled-full.keras"."""
    mode = "quick" if config.is_quick() else "full"
    return (
        f"cvae-latent{model.latent_dim}-{tag}-{_check_pixels(pixels)}-"
        f"{runs.source_tag(mnist)}-{mode}.keras"
    )


def train(mnist, model, tag, pixels="binary", verbose="auto"):
    """Trains `model` as `runs.book_model` trains the book's CVAE, resuming or loading its
    checkpoint `run_name(mnist, model, tag, pixels)` under `runs.checkpoint_dir()`.

    Args:
      mnist: a `vae_helpers.data.MNIST`.
      model: a fresh `models.CVAE` or subclass, seeded with `config.SEED`.
      tag: short string naming the settings that set this run apart (e.g. "warmup1250"); two
        runs with different settings need different tags.
      pixels: "binary" (dynamic binarisation, the book's) or "grey" (the grey levels as they are).
    Returns:
      A `training.TrainingRun`.
    """
    binary = _check_pixels(pixels) == "binary"
    train_data = data.make_dataset(
        runs.train_images(mnist),
        batch_size=runs.BATCH_SIZE,
        binarization="dynamic" if binary else "as_is",
        shuffle=True,
        seed=config.SEED,
    )
    test_data = data.make_dataset(
        test_images(mnist, pixels), batch_size=runs.BATCH_SIZE,
        binarization="as_is", shuffle=False,
    )
    return training.train(
        model,
        train_data,
        test_data,
        runs.epochs_for(mnist),
        learning_rate=runs.LEARNING_RATE,
        steps_per_execution=runs.STEPS_PER_EXECUTION,
        checkpoint=os.path.join(
            runs.checkpoint_dir(), run_name(mnist, model, tag, pixels)
        ),
        verbose=verbose,
    )


def positive_number(name, value):
    """`value` as a float, or a ValueError naming `name` unless it is a finite number above 0."""
    if (isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive finite number; got {value!r}.")
    return float(value)


def _check_pixels(pixels):
    if pixels not in PIXELS:
        raise ValueError(f"pixels must be one of {PIXELS}; got {pixels!r}.")
    return pixels
