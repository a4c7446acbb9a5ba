"""A semi-supervised VAE, Kingma et al.'s (2014) M2: learning to classify from a few labels.

The generative model is the conditional VAE's, p(x|y, z) p(z) p(y), with p(y) uniform over the ten
digits; a classifier q(y|x) joins the encoder q(z|x, y). An image with its label has the bound

    L(x, y) = E_q(z|x,y)[log p(x|y, z)] - KL(q(z|x, y) || p(z)) + log p(y)   <= log p(x, y);

an image without one sums the label out, all ten decoder passes:

    U(x) = sum_y q(y|x) L(x, y) + H(q(y|x))   <= log p(x).

The classifier enters only U, so labelled images would not train it; the objective adds
alpha * log q(y|x) for them (Kingma et al.'s alpha = 0.1 N). Labels of -1 mark unlabelled images.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, data, models
from vae_helpers.models import conditional

UNLABELLED = data.UNLABELLED


class SemiSupervisedVAE(conditional.ConditionalVAE):
    """M2 on the book's convolutional model: a `ConditionalVAE` with a classifier q(y|x).

    Args:
      latent_dim, seed: as for `models.CVAE`.
      labelled: positive int, a multiple of 10: how many training images keep their label
        (`training_labels`: the same number of each digit, chosen by the seed).
      alpha: positive number, the weight of the classification term log q(y|x) of each labelled
        image in the objective (Kingma et al. use 0.1 N, N the number of images).
    """

    unlabelled_ok = True

    def __init__(self, latent_dim, labelled, alpha, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.require_beta_one("weighs its terms by alpha")
        self.labelled = config.positive_int("labelled", labelled)
        if self.labelled % data.NUM_CLASSES:
            raise ValueError(f"labelled must be a multiple of {data.NUM_CLASSES} (as many of each digit); "
                             f"got {labelled!r}.")
        self.alpha = config.positive_number("alpha", alpha, maximum=1e9)
        # The encoder's network with 2 * 5 = 10 outputs: the logits of q(y|x).
        self.classifier = models.make_encoder(data.NUM_CLASSES // 2)
        self.trackers["accuracy"] = keras.metrics.Mean(name="accuracy")

    def training_labels(self, labels):
        """`labelled` // 10 labels of each digit kept, the images chosen by the seed; every other
        label `data.UNLABELLED`. (N,) in and out."""
        labels = data.check_labels(labels)
        rng = np.random.default_rng(config.SEED if self.seed is None else self.seed)
        kept = np.full(len(labels), UNLABELLED, np.int32)
        for digit in range(data.NUM_CLASSES):
            where = np.flatnonzero(labels == digit)
            if len(where) < self.labelled // data.NUM_CLASSES:
                raise ValueError(f"{len(where)} training images of digit {digit}, fewer than the "
                                 f"{self.labelled // data.NUM_CLASSES} labelled={self.labelled} needs.")
            chosen = rng.choice(where, self.labelled // data.NUM_CLASSES, replace=False)
            kept[chosen] = digit
        return kept

    def classify(self, images):
        """q(y|x): images (N, 28, 28, 1) -> class probabilities (N, 10)."""
        return tf.nn.softmax(self.classifier(self.check_images(images)))

    def labelled_bounds(self, x):
        """L(x, y) for every digit y: (batch, 10), with the reconstruction and the KL of each
        ((batch, 10) too): ten decoder passes, one z ~ q(z|x, y) each, run as one batch of
        10 * batch (image n under digit y is row y * batch + n)."""
        batch = tf.shape(x)[0]
        digits = tf.repeat(tf.range(data.NUM_CLASSES), batch)  # 0...0, 1...1, ...
        every = tf.tile(x, [data.NUM_CLASSES, 1, 1, 1])
        terms = super().terms(every, digits)
        bounds = {name: tf.transpose(tf.reshape(terms[name], [data.NUM_CLASSES, batch]))
                  for name in ("elbo", "reconstruction", "kl")}
        bounds["elbo"] = bounds["elbo"] - math.log(data.NUM_CLASSES)  # + log p(y)
        return bounds

    def terms(self, x, labels):
        """Per image: "elbo", L(x, y) for a labelled image and U(x) for an unlabelled one (label
        -1); its "reconstruction" and "kl" (weighted by q(y|x) when unlabelled); and
        "classification", log q(y|x) of the given label (0 when unlabelled). (batch,) each."""
        x = self.check_images(x)
        labels = tf.convert_to_tensor(labels)
        if tf.executing_eagerly():
            data.check_labels(labels, len(x), allow_unlabelled=True)
        log_q = tf.nn.log_softmax(tf.cast(self.classifier(x), tf.float32))  # (batch, 10)
        q = tf.exp(log_q)
        bounds = self.labelled_bounds(x)
        labelled = labels >= 0
        given = tf.one_hot(tf.maximum(labels, 0), data.NUM_CLASSES)  # the known label, one-hot
        # Unlabelled: the label summed out, plus the entropy of q(y|x).
        weights = tf.where(labelled[:, None], given, q)
        entropy = tf.where(labelled, 0.0, -tf.reduce_sum(q * log_q, axis=1))
        return {
            "elbo": tf.reduce_sum(weights * bounds["elbo"], axis=1) + entropy,
            "reconstruction": tf.reduce_sum(weights * bounds["reconstruction"], axis=1),
            "kl": tf.reduce_sum(weights * bounds["kl"], axis=1),
            "classification": tf.where(labelled, tf.reduce_sum(given * log_q, axis=1), 0.0),
            "correct": tf.cast(tf.argmax(log_q, axis=1, output_type=labels.dtype) == labels, tf.float32),
            "labelled": tf.cast(labelled, tf.float32),
        }

    def objective(self, terms):
        """Minus the bound of each image, minus alpha log q(y|x) for a labelled one."""
        return -terms["elbo"] - self.alpha * terms["classification"]

    def record(self, terms):
        """As `CVAE.record`, and the classifier's accuracy on the labelled images of the batch."""
        self.trackers["accuracy"].update_state(terms["correct"], sample_weight=terms["labelled"])
        return super().record(terms)

    def get_config(self):
        return {**super().get_config(), "labelled": self.labelled, "alpha": self.alpha}


keras.saving.register_keras_serializable(package="vae_helpers")(SemiSupervisedVAE)
