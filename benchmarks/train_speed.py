"""Training speed: the TF CVAE tutorial's loop beside the book's `training.train`, in one process.

Same data (the bundled digits, statically binarised), same model (CVAE, latent_dim 2), same batch
size (32), same seed, same number of epochs, each epoch followed by a test-set pass in both. Prints
images per second, their ratio, the process's peak memory, and the test ELBO each run reaches.

    python benchmarks/train_speed.py [--epochs 5] [--source bundled|auto]
"""

import argparse
import os
import resource
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import tensorflow as tf

from vae_helpers import config, data, evaluation, losses, models, training


def tutorial_loop(train_images, test_images, epochs, learning_rate):
    """The TF tutorial's training code, unchanged but for using this book's CVAE and loss."""
    config.set_seeds()
    model = models.CVAE(2, seed=config.SEED)
    optimizer = tf.keras.optimizers.Adam(learning_rate)
    train_dataset = tf.data.Dataset.from_tensor_slices(train_images).shuffle(len(train_images), seed=config.SEED).batch(32)
    test_dataset = tf.data.Dataset.from_tensor_slices(test_images).batch(32)

    @tf.function
    def train_step(model, x, optimizer):
        with tf.GradientTape() as tape:
            loss = losses.compute_loss(model, x)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    epoch_seconds, train_seconds = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        for train_x in train_dataset:
            train_step(model, train_x, optimizer)
        float(optimizer.iterations.numpy())  # wait for the last step before reading the clock
        train_seconds.append(time.perf_counter() - start)
        loss = tf.keras.metrics.Mean()
        for test_x in test_dataset:
            loss(losses.compute_loss(model, test_x))
        float(loss.result())  # the tutorial prints it: wait for it
        epoch_seconds.append(time.perf_counter() - start)
    return model, epoch_seconds, train_seconds


def book_path(train_images, test_images, epochs, learning_rate, steps_per_execution):
    config.set_seeds()
    model = models.CVAE(2, seed=config.SEED)
    train_data = data.make_dataset(train_images, batch_size=32, binarization="none", seed=config.SEED)
    test_data = data.make_dataset(test_images, batch_size=32, binarization="none", shuffle=False)
    epoch_seconds, train_seconds, start = [], [], [time.perf_counter()]

    class TestPassClock(keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            train_seconds.append(time.perf_counter() - start[0])

    def lap(epoch, model, logs):
        now = time.perf_counter()
        epoch_seconds.append(now - start[0])
        start[0] = now

    training.train(model, train_data, test_data, epochs, learning_rate=learning_rate,
                   steps_per_execution=steps_per_execution, on_epoch_end=lap, callbacks=[TestPassClock()], verbose=0)
    return model, epoch_seconds, train_seconds


def peak_memory_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--source", default="bundled", help="bundled (offline) or auto (full MNIST when it downloads)")
    parser.add_argument("--steps-per-execution", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first epoch (tracing) is not timed")

    mnist = data.load_mnist(args.source)
    train_images = data.binarize_static(mnist.train_images)
    test_images = data.binarize_static(mnist.test_images)
    gpus = tf.config.list_physical_devices("GPU")
    print(f"data: {mnist.description}")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
          f"{'GPU: ' + str(len(gpus)) if gpus else 'CPU only'}, {os.cpu_count()} CPUs; "
          f"batch 32, latent_dim 2, {args.epochs} epochs, first epoch (tracing) not timed\n")

    runs = [("tutorial loop (tf.function step, Python loop)", lambda: tutorial_loop(train_images, test_images, args.epochs, args.learning_rate))]
    for steps in args.steps_per_execution:
        runs.append((f"book: training.train, steps_per_execution={steps}",
                     lambda steps=steps: book_path(train_images, test_images, args.epochs, args.learning_rate, steps)))
    rows = []
    for name, run in runs:
        model, seconds, train_seconds = run()
        speed = len(train_images) * (len(seconds) - 1) / sum(seconds[1:])
        train_speed = len(train_images) * (len(train_seconds) - 1) / sum(train_seconds[1:])
        elbo, error = evaluation.summarize(evaluation.iwae(model, test_images, 1, seed=config.SEED))
        rows.append((name, speed, train_speed, peak_memory_mb(), elbo, error))
        print(f"  done: {name}", file=sys.stderr)

    reference, train_reference = rows[0][1], rows[0][2]
    print(f"{'run':<52} {'images/s':>9} {'ratio':>6} {'train-only':>10} {'ratio':>6} {'peak RSS MB':>11} {'test ELBO':>17}")
    for name, speed, train_speed, memory, elbo, error in rows:
        print(f"{name:<52} {speed:9.0f} {speed / reference:5.2f}x {train_speed:10.0f} {train_speed / train_reference:5.2f}x "
              f"{memory:11.0f} {elbo:9.2f} +- {error:.2f}")
    print("\nimages/s: training images per second over whole epochs (training + the test pass);")
    print("train-only: the same, counting only the training part of each epoch;")
    print("peak RSS: the process's high-water mark after the run (cumulative, so later rows include earlier ones);")
    print("test ELBO: single-sample, nats per image, mean +- standard error over the test set.")


if __name__ == "__main__":
    main()
