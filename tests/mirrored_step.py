"""One SGD step of models.CVAE(2) on one device and on two replicas, for test_distributed.

Usage: python mirrored_step.py OUTPUT.npz
Run in its own process: the two logical CPU devices must exist before TensorFlow sets up its
devices. Writes, for the same 64 images and the same starting weights, with q(z|x) a near point mass
(distributed.point_mass) so that the noise plays no part: the weight change and the
logged metrics on one device ("one"), under MirroredStrategy on /cpu:0 and /cpu:1 ("two"), and
under it with the per-replica mean of the old train_step ("old"); also the per-image terms
computed directly, and the strategy that choose_strategy picked, also with one GPU listed (as on
Colab's GPU runtime).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, distributed, losses, models

LEARNING_RATE = 1e-3


class OldCVAE(models.CVAE):
    """The train_step of commit 215ea31: the mean over the images a replica holds."""

    def train_step(self, data):
        x = models.images_of(data)
        with tf.GradientTape() as tape:
            terms = losses.elbo_terms(self, x)
            loss = tf.reduce_mean(self.objective(terms))
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self.record(terms)


def one_step(model_class, strategy, images):
    with strategy.scope():
        config.set_seeds()
        model = distributed.point_mass(model_class(2, seed=config.SEED))
        before = [w.numpy() for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(LEARNING_RATE))
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(len(images))
    history = model.fit(dataset, epochs=1, shuffle=False, verbose=0).history
    change = np.concatenate([
        (w.numpy() - b).ravel() for w, b in zip(model.trainable_weights, before)
    ])
    return change, {name: values[0] for name, values in history.items()}


def one_gpu_choice():
    """choose_strategy where one GPU is listed beside the two logical CPUs (the GPU is faked:
    it is only listed, and the strategy must not be built over it)."""
    listed = tf.config.list_logical_devices
    gpu = tf.config.LogicalDevice(name="/device:GPU:0", device_type="GPU")
    tf.config.list_logical_devices = (
        lambda kind=None: [gpu] if kind == "GPU" else listed(kind))
    try:
        strategy, reason = distributed.choose_strategy()
    finally:
        tf.config.list_logical_devices = listed
    return strategy.num_replicas_in_sync, reason


def main(output):
    # First: importing TensorFlow sets up no device, but the first tensor does.
    devices = distributed.use_logical_cpus(2)
    images = distributed.worker_images(64)
    strategy, reason = distributed.choose_strategy()
    assert strategy.num_replicas_in_sync == 2, reason
    config.set_seeds()
    reference = distributed.point_mass(models.CVAE(2, seed=config.SEED))
    terms = losses.elbo_terms(reference, tf.constant(images))
    results = {"devices": np.array(devices), "reason": np.array(reason)}
    results["one_gpu_replicas"], results["one_gpu_reason"] = map(np.array, one_gpu_choice())
    runs = (("one", models.CVAE, tf.distribute.OneDeviceStrategy("/cpu:0")),
            ("two", models.CVAE, strategy), ("old", OldCVAE, strategy))
    for name, model_class, run_strategy in runs:
        change, logs = one_step(model_class, run_strategy, images)
        results[f"{name}_change"] = change
        for metric, value in logs.items():
            results[f"{name}_{metric}"] = value
    for name in ("elbo", "reconstruction", "kl"):
        results[f"terms_{name}"] = terms[name].numpy()
    np.savez(output, **results)


if __name__ == "__main__":
    main(sys.argv[1])
