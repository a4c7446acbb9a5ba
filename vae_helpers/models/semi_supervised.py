"""A semi-supervised VAE, Kingma et al.'s (2014) M2: learning to classify from a few labels.

The generative model is the conditional VAE's, p(x|y, z) p(z) p(y), with p(y) uniform over the ten
digits; a classifier q(y|x) joins the encoder q(z|x, y). An image with its label has the bound

    L(x, y) = E_q(z|x,y)[log p(x|y, z)] - KL(q(z|x, y) || p(z)) + log p(y)   <= log p(x, y);

an image without one sums the label out, all ten decoder passes:

    U(x) = sum_y q(y|x) L(x, y) + H(q(y|x))   <= log p(x).

The classifier enters only U, so labelled images would not train it; the objective adds
alpha * log q(y|x) for each of them (Kingma et al.'s weight, 0.1 N on the labelled images' mean,
is alpha = 0.1 N / n for n labelled of N images). Labels of -1 mark unlabelled images.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, data, models

class SemiSupervisedVAE(models.ConditionalVAE):
    """M2 on the book's convolutional model: a `ConditionalVAE` with a
    classifier q(y|x).

    Args:
      latent_dim, seed: as for `models.CVAE`.
      labelled: positive int, a multiple of 10: how many training images
        keep their label (`training_labels`: as many of each digit).
      alpha: positive number, the weight of log q(y|x) of each labelled
        image, beside a weight of 1 on each image's bound. Kingma et al.
        weigh the mean over the n labelled images by 0.1 N (N images in
        all): 0.1 N / n per labelled image.
    """

    unlabelled_ok = True

    def __init__(self, latent_dim, labelled, alpha, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.require_beta_one("weighs its terms by alpha")
        self.labelled = config.positive_int("labelled", labelled)
        if self.labelled % data.NUM_CLASSES:
            raise ValueError("labelled must be a multiple of 10 (as many "
                             f"of each digit); got {labelled!r}.")
        self.alpha = config.positive_number("alpha", alpha, maximum=1e9)
        self.classifier = make_classifier()  # the logits of q(y|x)
        self.trackers["accuracy"] = keras.metrics.Mean(name="accuracy")

    def training_labels(self, labels):
        """The labels M2 trains with, given every training image's (N,):
        `labelled` // 10 of each digit kept, chosen by the seed; every
        other label `data.UNLABELLED`. (N,) int32."""
        labels = data.check_labels(labels)
        seed = config.SEED if self.seed is None else self.seed
        rng = np.random.default_rng(seed)
        per_digit = self.labelled // data.NUM_CLASSES
        kept = np.full(len(labels), data.UNLABELLED, np.int32)
        for digit in range(data.NUM_CLASSES):
            where = np.flatnonzero(labels == digit)
            if len(where) < per_digit:
                raise ValueError(
                    f"{len(where)} training images of digit {digit}, fewer "
                    f"than the {per_digit} labelled={self.labelled} needs.")
            kept[rng.choice(where, per_digit, replace=False)] = digit
        return kept

    def classify(self, images):
        """q(y|x): images (N, 28, 28, 1) -> class probabilities (N, 10)."""
        logits = self.classifier(self.check_images(images))
        return tf.nn.softmax(tf.cast(logits, tf.float32))

    def labelled_bounds(self, x):
        """L(x, y) of every image under every digit y, with its
        reconstruction and KL: (batch, 10) each. The ten decoder passes
        run as one batch of 10 * batch: row y * batch + n is image n
        under digit y, with its own z ~ q(z|x_n, y)."""
        batch = tf.shape(x)[0]
        digits = tf.repeat(tf.range(data.NUM_CLASSES), batch)  # 0..0, 1..1
        every = tf.tile(x, [data.NUM_CLASSES, 1, 1, 1])
        # The conditional model's terms (a method shown on its own, outside
        # the class body, cannot call super()).
        terms = models.ConditionalVAE.terms(self, every, digits)
        bounds = {
            name: tf.transpose(tf.reshape(terms[name], [-1, batch]))
            for name in ("elbo", "reconstruction", "kl")
        }
        log_p_y = -math.log(data.NUM_CLASSES)  # p(y) uniform
        bounds["elbo"] = bounds["elbo"] + log_p_y
        return bounds

    def terms(self, x, labels):
        """Per image, (batch,) each: "elbo", L(x, y) if labelled and U(x)
        if not (label -1); its "reconstruction" and "kl", weighted by
        q(y|x) when unlabelled; "classification", log q(y|x) of the
        given label (0 when unlabelled)."""
        x = self.check_images(x)
        labels = tf.convert_to_tensor(labels)
        if tf.executing_eagerly():
            data.check_labels(labels, len(x), allow_unlabelled=True)
        logits = tf.cast(self.classifier(x), tf.float32)
        log_q = tf.nn.log_softmax(logits)  # log q(y|x), (batch, 10)
        q = tf.exp(log_q)
        bounds = self.labelled_bounds(x)
        labelled = labels >= 0
        given = tf.one_hot(tf.maximum(labels, 0), data.NUM_CLASSES)
        # Labelled: the given label's bound. Unlabelled: the label summed
        # out, sum_y q(y|x) L(x, y), plus the entropy of q(y|x).
        weights = tf.where(labelled[:, None], given, q)
        entropy = -tf.reduce_sum(q * log_q, axis=1)
        entropy = tf.where(labelled, 0.0, entropy)
        guess = tf.argmax(log_q, axis=1, output_type=labels.dtype)
        return {
            "elbo": tf.reduce_sum(weights * bounds["elbo"], 1) + entropy,
            "reconstruction": tf.reduce_sum(
                weights * bounds["reconstruction"], 1),
            "kl": tf.reduce_sum(weights * bounds["kl"], 1),
            "classification": tf.where(
                labelled, tf.reduce_sum(given * log_q, 1), 0.0),
            "correct": tf.cast(guess == labels, tf.float32),
            "labelled": tf.cast(labelled, tf.float32),
        }

    def objective(self, terms):
        """Minus each image's bound, minus alpha log q(y|x) if labelled."""
        return -terms["elbo"] - self.alpha * terms["classification"]

    def record(self, terms):
        """As `CVAE.record`, and the classifier's accuracy on the labelled images of the batch."""
        self.trackers["accuracy"].update_state(terms["correct"], sample_weight=terms["labelled"])
        return super().record(terms)

    def get_config(self):
        return {**super().get_config(), "labelled": self.labelled, "alpha": self.alpha}


def make_classifier():
    """q(y|x)'s network: the encoder's, with 2 * 5 = 10 outputs, the
    logits of the ten digits; images (batch, 28, 28, 1) -> (batch, 10)."""
    return models.make_encoder(data.NUM_CLASSES // 2)


BASELINE_STEPS = 500
"""Adam steps of `train_classifier`: enough that the training images are fitted (tens of passes
over 100 images); there is no validation set to stop at, since every other label is hidden."""


def train_classifier(images, labels, seed, steps=BASELINE_STEPS, batch_size=32):
    """The baseline M2 must beat: q(y|x)'s network (`make_classifier`) trained by cross-entropy
    on the labelled images alone, with a fresh binarisation of them at every pass, as M2 sees.

    Args:
      images: (N, 28, 28, 1) grey training images in [0, 1].
      labels: (N,) ints 0-9.
      seed: seeds the initial weights, the batches and the binarisations.
      steps: Adam steps at the book's learning rate.
    Returns:
      A function: images (M, 28, 28, 1) -> class probabilities (M, 10).
    """
    from vae_helpers import training

    labels = data.check_labels(labels, len(images))
    steps = config.positive_int("steps", steps)
    keras.utils.set_random_seed(seed)
    network = make_classifier()
    network.compile(optimizer=keras.optimizers.Adam(training.DEFAULT_LEARNING_RATE),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batches = data.make_dataset(images, batch_size, binarization="dynamic", seed=seed, labels=labels)
    # shuffle=False: the batches are shuffled already (Keras warns otherwise).
    network.fit(batches.repeat(), steps_per_epoch=steps, epochs=1, shuffle=False, verbose=0)

    def classify(test_images):
        return tf.nn.softmax(network.predict(data.to_unit_images(test_images), verbose=0)).numpy()

    return classify


keras.saving.register_keras_serializable(package="vae_helpers")(SemiSupervisedVAE)
