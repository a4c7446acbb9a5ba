"""Training a model of `vae_helpers.models` with `model.fit`: a test ELBO every epoch, a checkpoint
after every epoch (`checkpoints`: they survive being killed and resume exactly), and a clear stop
when the loss stops being a number.
"""

import dataclasses
import logging
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import checkpoints, config, data, likelihoods, models, precision
from vae_helpers.checkpoints import STATE_ENTRY, CheckpointMismatchError, checkpoint_state  # noqa: F401

save_checkpoint = checkpoints.save  # its public name before `checkpoints` held it

DEFAULT_LEARNING_RATE = 1e-3
"""Adam's step size for every run in the book: Adam's default (the keras-io VAE example's). The TF
tutorial's 1e-4 goes with its 18,750 steps over full MNIST; the bundled subset gives only 1,875
steps, so the book takes the larger step (the smaller one is not measured here)."""


class _NoRetracingNotice(logging.Filter):
    """Drops TensorFlow's "triggered tf.function retracing" warning. Each run builds a new model,
    and Keras traces a step function of its own for each; TensorFlow's detector counts those as
    one function traced again and again, and its advice (reuse the function) does not apply."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_NoRetracingNotice())


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""

@dataclasses.dataclass
class TrainingRun:
    """What `train` returns.

    Attributes:
      model: the trained `CVAE` (a new object when the run resumed from a checkpoint).
      history: per-epoch metrics of every epoch, including those before a resume: "loss",
        "elbo", "reconstruction_loss", "kl_loss" on the training set and the same with "val_"
        on the test set, each a list of floats, nats per image.
      resumed_from: epochs already done when this call started (0 for a fresh run).
      seconds: wall-clock time this call spent in `fit`.
      precision: the policy this call trained in (`precision.training_policy`): "float32", or
        "mixed_bfloat16" (float32 weights, logits and losses; bfloat16 maths inside the halves);
        None when it trained nothing (the checkpoint was finished).
    """

    model: models.VAEBase
    history: dict
    resumed_from: int
    seconds: float
    precision: str = None

    @property
    def epochs(self):
        return len(self.history.get("elbo", []))


def train(
    model,
    train_data,
    test_data,
    epochs,
    *,
    learning_rate=DEFAULT_LEARNING_RATE,
    checkpoint=None,
    data_fingerprint=None,
    on_epoch_end=None,
    callbacks=(),
    steps_per_execution=1,
    verbose="auto",
):
    """Trains `model` with `fit`, evaluating the test ELBO after every epoch.

    Args:
      model: a `CVAE`, or any model of the contract `models.VAEBase`. If `checkpoint` exists,
        the model saved there replaces it; it must be of the same class and settings (`get_config()`), else `CheckpointMismatchError`.
      train_data, test_data: `tf.data.Dataset`s of float32 batches (batch, 28, 28, 1), as made by
        `vae_helpers.data.make_dataset` (shuffled for training, not for testing).
      epochs: total epochs of the run, counting those a checkpoint already holds.
      learning_rate: Adam's step size, used when the run starts fresh.
      checkpoint: path of a `.keras` file written after every epoch; an existing one is resumed.
        A symbolic link is written through (its target advances, the link stays). Its folder
        must be writable: that is checked before the first step, not after the first epoch.
      data_fingerprint: a string that names the data (e.g. `vae_helpers.data.fingerprint` of
        the training and test images), stored in the checkpoint; resuming a checkpoint whose
        fingerprint differs raises `CheckpointMismatchError`. None: not recorded or compared.
      on_epoch_end: called as on_epoch_end(epoch, model, logs) after each epoch's checkpoint, with
        epoch counted from 1 (for pictures of progress).
      callbacks: further Keras callbacks for `fit`.
      steps_per_execution: training steps per call into the compiled graph (fewer host round trips),
        rounded down to a divisor of the batches per epoch so that an epoch stays exactly one pass.
      verbose: `fit`'s verbosity; "auto" shows Keras' progress bar.
    Returns:
      A `TrainingRun`.
    """
    epochs = config.positive_int("epochs", epochs)
    steps_per_execution = config.positive_int("steps_per_execution", steps_per_execution)
    if not (isinstance(learning_rate, (int, float, np.integer, np.floating))
            and not isinstance(learning_rate, (bool, np.bool_))
            and math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(
            f"learning_rate must be a positive number (the book uses {DEFAULT_LEARNING_RATE:g}); "
            f"got {learning_rate!r}."
        )
    learning_rate = float(learning_rate)
    policy = precision.training_policy()  # a bad VAE_PRECISION is refused before any work
    if not isinstance(model, models.VAEBase):
        raise TypeError(
            f"train expects a model of vae_helpers.models (a CVAE, or any models.VAEBase); got "
            f"{type(model).__name__}."
        )
    _check_dataset("train_data", train_data)
    _check_dataset("test_data", test_data)
    num_batches = _num_batches("train_data", train_data)
    if int(test_data.cardinality()) == 0:
        raise ValueError(_empty("test_data"))
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if not checkpoint.endswith(".keras"):
            raise ValueError(f"checkpoint must be a path ending in .keras; got {checkpoint!r}.")
    if data_fingerprint is not None and not isinstance(data_fingerprint, str):
        raise TypeError(f"data_fingerprint must be a string or None; got {type(data_fingerprint).__name__}.")

    history, done = {}, 0
    if checkpoint is not None and os.path.exists(checkpoint):
        model, history, done = checkpoints.resume(checkpoint, model, epochs, data_fingerprint)
        optimizer = model.optimizer  # with its saved state
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    if done >= epochs:
        return TrainingRun(model, history, resumed_from=done, seconds=0.0)
    # Problems found here cost seconds; found by fit, they cost an epoch or come as a NaN "ELBO".
    # Reading a batch draws one pass of a reshuffling pipeline: fresh and resumed runs both do it
    # here, before the replay below, so a resumed run still sees what an uninterrupted one saw.
    if checkpoint is not None:
        checkpoints.check_writable(checkpoint)
    _check_first_batch("train_data", train_data, getattr(model, "likelihood", None))
    _check_first_batch("test_data", test_data)
    # Keras runs whole executions: 4 steps at a time over 10 batches would take 12 per "epoch".
    steps_per_execution = max(d for d in range(1, steps_per_execution + 1) if num_batches % d == 0)
    # Every pass over a reshuffling pipeline draws the next order (and the next dynamic
    # binarisation). Replaying the passes already done, then repeating the pipeline as one
    # stream, gives the resumed epochs exactly the data an uninterrupted run would have seen.
    for _ in range(done):
        for _ in train_data.take(1):
            pass
    recorder = _Recorder(model, history, checkpoint, on_epoch_end, data_fingerprint)
    start = time.perf_counter()
    with precision.training_in(model, policy) as between_epochs:
        fit(
            model, train_data, test_data, epochs,
            optimizer=optimizer,
            num_batches=num_batches,
            initial_epoch=done,
            steps_per_execution=steps_per_execution,
            # First, so that the test ELBO and every callback after it see float32.
            callbacks=[*between_epochs, _StopOnNonFiniteLoss(), recorder, *callbacks],
            verbose=verbose,
        )
    return TrainingRun(model, recorder.history, resumed_from=done, seconds=time.perf_counter() - start,
                       precision=policy)

def fit(model, train_data, test_data, epochs, *, optimizer, num_batches,
        initial_epoch=0, steps_per_execution=1, callbacks=(),
        verbose="auto"):
    """The heart of `train`: compile the model, then `fit` it, scoring the
    test set after every epoch.

    Args:
      model: a `CVAE`.
      train_data, test_data: datasets of image batches (batch, 28, 28, 1);
        the training pipeline reshuffles itself on every pass.
      epochs: the last epoch to train, counted from 1.
      optimizer: a Keras optimizer (with its state, when resuming).
      num_batches: batches in one pass over `train_data`.
      initial_epoch: epochs already done (0 for a fresh run).
      steps_per_execution: steps per call into the compiled graph.
      callbacks: called by Keras after every batch and epoch.
      verbose: `fit`'s verbosity.
    Returns:
      The `keras.callbacks.History` of this call.
    """
    model.compile(optimizer=optimizer,
                  steps_per_execution=steps_per_execution)
    return model.fit(
        # One endless stream cut into epochs of num_batches steps: a resumed
        # run continues the stream where the checkpoint left it.
        train_data.repeat(),
        steps_per_epoch=num_batches,
        # test_step on the test set after every epoch: "val_elbo" and co.
        validation_data=test_data,
        epochs=epochs,
        initial_epoch=initial_epoch,
        callbacks=list(callbacks),
        # The pipeline shuffles itself; Keras must not (it warns otherwise).
        shuffle=False,
        verbose=verbose,
    )

class _Recorder(keras.callbacks.Callback):
    """Keeps the history of every epoch, writes the checkpoint, then calls the user's hook."""

    def __init__(self, model, history, checkpoint, on_epoch_end, data_fingerprint=None):
        super().__init__()
        self._vae = model
        self.history = {name: list(values) for name, values in history.items()}
        self._checkpoint = checkpoint
        self._on_epoch_end = on_epoch_end
        self._data_fingerprint = data_fingerprint

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        # Checked before the checkpoint is written: a NaN recorded as the test ELBO would be
        # resumed, plotted and quoted as a result.
        broken = {name: float(value) for name, value in logs.items() if not math.isfinite(float(value))}
        if broken:
            on_test = any(name.startswith("val_") for name in broken)
            where = "the test set (test_data)" if on_test else "the training set (train_data)"
            raise NonFiniteLossError(
                f"after epoch {epoch + 1}, {', '.join(f'{k}={v}' for k, v in broken.items())} on "
                f"{where}. Check its images (pixels in [0, 1], no NaN or infinity in any batch). "
                "This epoch was not written to the checkpoint; the last checkpoint, if any, holds "
                "the model from before it."
            )
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))
        if self._checkpoint is not None:
            checkpoints.save(self._checkpoint, self._vae, self.history, self._data_fingerprint)
        if self._on_epoch_end is not None:
            self._on_epoch_end(epoch + 1, self._vae, logs)


class _StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Raises at the first step whose running loss is NaN or infinite, naming the epoch and step."""

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = float((logs or {}).get("loss", 0.0))
        if not math.isfinite(loss):
            raise NonFiniteLossError(
                f"the training loss became {loss} at epoch {self._epoch}, step {batch + 1}. "
                "Check the data (0/1 pixels in [0, 1], no NaN) and try a smaller learning rate; "
                "the last checkpoint, if any, holds the model from before this epoch."
            )


def _num_batches(name, dataset):
    count = int(dataset.cardinality())
    if count == 0:
        raise ValueError(_empty(name))
    if count < 0:
        raise ValueError(
            f"{name} must be a finite dataset whose number of batches tf.data knows; its cardinality is {count}. "
            "Build it with make_dataset, or state the count with "
            "dataset.apply(tf.data.experimental.assert_cardinality(num_batches))."
        )
    return count


def _empty(name):
    return (
        f"{name} is empty (0 batches): check the images given to make_dataset, or the slice or "
        "split that produced them."
    )


def _check_dataset(name, dataset):
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(
            f"{name} must be a tf.data.Dataset of image batches; got {type(dataset).__name__}. "
            "Make one with vae_helpers.data.make_dataset(images)."
        )
    spec = dataset.element_spec
    if isinstance(spec, (tuple, list)):
        spec = spec[0]
    shape = tuple(spec.shape)
    if len(shape) != 4 or shape[1:] != data.IMAGE_SHAPE:
        raise ValueError(
            f"{name} must yield batches of shape (batch, 28, 28, 1); it yields {shape}. "
            "Batch it (make_dataset does) and give the images a channel axis, x[..., None]."
        )
    if spec.dtype != tf.float32:
        raise ValueError(
            f"{name} must yield float32 pixels in [0, 1]; it yields {spec.dtype.name}. "
            "Convert with vae_helpers.data.to_unit_images, or build it with make_dataset."
        )


def _check_first_batch(name, dataset, likelihood=None):
    """Refuses a dataset whose first batch is not pixels in [0, 1]: 0-255 pixels would train to an
    "ELBO" of -4e19 per image without a word; and, for a model of another `likelihood`, 0/1 pixels
    it cannot model (`likelihoods.check_training_data`). One batch only: a fraction of a second."""
    for batch in dataset.take(1):
        images = models.images_of(batch).numpy()
        data.check_pixel_range(images, f"{name}'s first batch")
        if likelihood is not None:
            likelihoods.check_training_data(likelihood, bool(np.all((images == 0) | (images == 1))))
