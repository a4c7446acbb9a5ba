"""CVAE variants that change more than the weight of the KL term, and how chapters 9 and 11 train them.

`models.CVAE` takes a batch's terms from one overridable method, `terms(x)`
(`losses.elbo_terms`, which also returns each dimension's KL): `LikelihoodCVAE` overrides it to
score pixels with another likelihood.

`train` trains a variant on the recipe of `runs.book_model` (same data, batch size, epochs,
learning rate, seed), with a checkpoint named by the variant's settings.
"""

import os

import keras
import tensorflow as tf

from vae_helpers import config, data, likelihoods, losses, models
from vae_helpers import published, runs, training


class LikelihoodCVAE(models.CVAE):
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

    def terms(self, x):
        """`losses.elbo_terms` with this model's pixel likelihood."""
        return losses.elbo_terms(self, x, log_likelihood=self.log_likelihood)

    def log_likelihood(self, x, logits):
        """log p(x|z) of each image (batch,) from the decoder's logits."""
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


keras.saving.register_keras_serializable(package="vae_helpers")(LikelihoodCVAE)

PIXELS = ("binary", "grey")


def test_images(mnist, pixels="binary"):
    """The test set a variant is scored on: `runs.test_images` (fixed 0/1 draws), or the same
    images' grey levels. float32 (N, 28, 28, 1)."""
    binary = runs.test_images(mnist)
    if _check_pixels(pixels) == "binary":
        return binary
    return mnist.test_images[: len(binary)]


def run_name(mnist, model, tag, pixels="binary", fingerprint=None):
    """Checkpoint file name of a variant, e.g.
    "cvae-latent16-freebits0.25-binary-bundled-1a2b3c4d-full.keras", where 1a2b3c4d starts the
    fingerprint of its data (`data.fingerprint` of its training and test images; computed here
    unless given): two data files of one name get a checkpoint each, as in `runs.run_name`."""
    mode = "quick" if config.is_quick() else "full"
    if fingerprint is None:
        fingerprint = data.fingerprint(runs.train_images(mnist), test_images(mnist, pixels))
    return (
        f"cvae-latent{model.latent_dim}-{tag}-{_check_pixels(pixels)}-"
        f"{runs.source_tag(mnist)}-{fingerprint[:8]}-{mode}.keras"
    )


def train(mnist, model, tag, pixels="binary", on_epoch_end=None, callbacks=(), verbose="auto",
          seed=config.SEED, epochs=None):
    """Trains `model` as `runs.book_model` trains the book's CVAE, resuming or loading its
    checkpoint `run_name(mnist, model, tag, pixels)` under `runs.checkpoint_dir()` (or, when
    there is none, the published book's: `published.fetch`).

    Args:
      mnist: a `vae_helpers.data.MNIST`.
      model: a fresh `models.CVAE` or subclass, seeded with `seed`.
      tag: short string naming the settings that set this run apart (e.g. "warmup1250"); two
        runs with different settings need different tags.
      pixels: "binary" (dynamic binarisation, the book's) or "grey" (the grey levels as they are);
        a Gaussian likelihood needs "grey" (`likelihoods.check_training_data`).
      on_epoch_end, callbacks, verbose: as in `vae_helpers.training.train`.
      seed: seeds the order of the training batches and their binarisation; a run with another
        seed needs another tag (and a model seeded, and initialised, to match).
      epochs: positive int, or None for `runs.epochs_for(mnist)` (the book's budget); a run of
        another length needs another tag.
    Returns:
      A `training.TrainingRun`.
    """
    binary = _check_pixels(pixels) == "binary"
    if isinstance(model, LikelihoodCVAE):
        likelihoods.check_training_data(model.likelihood, binary)
    train, test = runs.train_images(mnist), test_images(mnist, pixels)
    train_data = data.make_dataset(
        train,
        batch_size=runs.BATCH_SIZE,
        binarization="dynamic" if binary else "as_is",
        shuffle=True,
        seed=seed,
    )
    test_data = data.make_dataset(
        test, batch_size=runs.BATCH_SIZE, binarization="as_is", shuffle=False,
    )
    # Named in the checkpoint's file name, and recorded in it whole, so that a published variant
    # can be checked against the learner's data before it is used (published.fetch).
    fingerprint = data.fingerprint(train, test)
    checkpoint = os.path.join(
        runs.checkpoint_dir(), run_name(mnist, model, tag, pixels, fingerprint)
    )
    if epochs is None:
        epochs = runs.epochs_for(mnist)
    epochs = config.positive_int("epochs", epochs)
    published.fetch(checkpoint, model, epochs, fingerprint)
    return training.train(
        model,
        train_data,
        test_data,
        epochs,
        learning_rate=runs.LEARNING_RATE,
        steps_per_execution=runs.STEPS_PER_EXECUTION,
        checkpoint=checkpoint,
        data_fingerprint=fingerprint,
        on_epoch_end=on_epoch_end,
        callbacks=callbacks,
        verbose=verbose,
    )


def _check_pixels(pixels):
    if pixels not in PIXELS:
        raise ValueError(f"pixels must be one of {PIXELS}; got {pixels!r}.")
    return pixels
