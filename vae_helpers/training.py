"""Training a `CVAE` with `model.fit`: a test ELBO every epoch, checkpoints that survive being killed,
and a clear stop when the loss stops being a number.

A checkpoint is one `.keras` file holding the model, the optimizer state and a small JSON record of
the run (epochs done, the per-epoch history, the state of the model's noise). It is written to a
temporary file and renamed over the old one, so a kill at any moment leaves either the previous
epoch's checkpoint or the new one, never half of one.
"""

import dataclasses
import json
import math
import os
import time
import zipfile

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, models

STATE_ENTRY = "vae_helpers_training.json"
"""The name of the run record inside a checkpoint's zip archive (Keras ignores entries it does not know)."""

DEFAULT_LEARNING_RATE = 1e-4
"""Adam's step size in the TF tutorial."""


class NonFiniteLossError(RuntimeError):
    """Training produced a NaN or infinite loss."""


class CheckpointMismatchError(ValueError):
    """A checkpoint does not belong to the run that asked for it."""


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
    """

    model: models.CVAE
    history: dict
    resumed_from: int
    seconds: float

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
    on_epoch_end=None,
    callbacks=(),
    steps_per_execution=1,
    verbose="auto",
):
    """Trains `model` with `fit`, evaluating the test ELBO after every epoch.

    Args:
      model: a `CVAE`. If `checkpoint` exists, the model saved there replaces it (same latent size).
      train_data, test_data: `tf.data.Dataset`s of float32 batches (batch, 28, 28, 1), as made by
        `vae_helpers.data.make_dataset` (shuffled for training, not for testing).
      epochs: total epochs of the run, counting those a checkpoint already holds.
      learning_rate: Adam's step size, used when the run starts fresh.
      checkpoint: path of a `.keras` file written after every epoch; an existing one is resumed.
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
    if not (isinstance(learning_rate, (int, float)) and not isinstance(learning_rate, bool)
            and math.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number (the tutorial uses 1e-4); got {learning_rate!r}.")
    if not isinstance(model, models.CVAE):
        raise TypeError(f"train expects a vae_helpers.models.CVAE; got {type(model).__name__}.")
    _check_dataset("train_data", train_data)
    _check_dataset("test_data", test_data)
    num_batches = _num_batches("train_data", train_data)
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        if not checkpoint.endswith(".keras"):
            raise ValueError(f"checkpoint must be a path ending in .keras; got {checkpoint!r}.")

    history, done = {}, 0
    if checkpoint is not None and os.path.exists(checkpoint):
        model, history, done = _resume(checkpoint, model, epochs)
        optimizer = model.optimizer  # with its saved state
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    if done >= epochs:
        return TrainingRun(model, history, resumed_from=done, seconds=0.0)
    # Keras runs whole executions: 4 steps at a time over 10 batches would take 12 per "epoch".
    steps_per_execution = max(d for d in range(1, steps_per_execution + 1) if num_batches % d == 0)
    model.compile(optimizer=optimizer, steps_per_execution=steps_per_execution)

    # Every pass over a reshuffling pipeline draws the next order (and the next dynamic
    # binarisation). Replaying the passes already done, then repeating the pipeline as one
    # stream, gives the resumed epochs exactly the data an uninterrupted run would have seen.
    for _ in range(done):
        for _ in train_data.take(1):
            pass
    recorder = _Recorder(model, history, checkpoint, on_epoch_end)
    start = time.perf_counter()
    # shuffle=False: the tf.data pipeline does its own shuffling (Keras warns otherwise).
    model.fit(
        train_data.repeat(),
        steps_per_epoch=num_batches,
        validation_data=test_data,
        epochs=epochs,
        initial_epoch=done,
        callbacks=[_StopOnNonFiniteLoss(), recorder, *callbacks],
        shuffle=False,
        verbose=verbose,
    )
    return TrainingRun(model, recorder.history, resumed_from=done, seconds=time.perf_counter() - start)


def checkpoint_state(path):
    """The run record of a checkpoint: {"epochs_done", "history", "latent_dim", "beta", "noise_state"}."""
    path = os.fspath(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read(STATE_ENTRY))
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as error:
        raise CheckpointMismatchError(
            f"{path} is not a checkpoint written by vae_helpers.training.train ({error}); "
            "delete it to start the run afresh."
        ) from None


def _resume(path, model, epochs):
    state = checkpoint_state(path)
    for name in ("latent_dim", "beta"):
        if state[name] != getattr(model, name):
            raise CheckpointMismatchError(
                f"{path} holds a model with {name}={state[name]}, but this run's model has "
                f"{name}={getattr(model, name)}: use another checkpoint path, or delete the file to start afresh."
            )
    if state["epochs_done"] > epochs:
        raise CheckpointMismatchError(
            f"{path} already holds {state['epochs_done']} epochs, more than the {epochs} asked for: "
            f"ask for epochs={state['epochs_done']} or more, or use another checkpoint path."
        )
    loaded = keras.models.load_model(path)
    loaded.noise.state.assign(np.asarray(state["noise_state"], dtype=loaded.noise.state.dtype))
    return loaded, state["history"], state["epochs_done"]


def _save(path, model, history):
    """Writes the checkpoint beside `path`, then renames it over `path` (atomic on one filesystem)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.partial.keras")
    model.save(temporary)
    state = {
        "epochs_done": len(history["elbo"]),
        "history": history,
        "latent_dim": model.latent_dim,
        "beta": model.beta,
        "noise_state": np.asarray(model.noise.state.numpy()).tolist(),
    }
    with zipfile.ZipFile(temporary, "a") as archive:
        archive.writestr(STATE_ENTRY, json.dumps(state))
    os.replace(temporary, path)


class _Recorder(keras.callbacks.Callback):
    """Keeps the history of every epoch, writes the checkpoint, then calls the user's hook."""

    def __init__(self, model, history, checkpoint, on_epoch_end):
        super().__init__()
        self._vae = model
        self.history = {name: list(values) for name, values in history.items()}
        self._checkpoint = checkpoint
        self._on_epoch_end = on_epoch_end

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        if self._checkpoint is not None:
            _save(self._checkpoint, self._vae, self.history)
        if self._on_epoch_end is not None:
            self._on_epoch_end(epoch + 1, self._vae, dict(logs or {}))


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
    if count <= 0:
        raise ValueError(
            f"{name} must be a finite dataset whose number of batches tf.data knows; its cardinality is {count}. "
            "Build it with make_dataset, or state the count with "
            "dataset.apply(tf.data.experimental.assert_cardinality(num_batches))."
        )
    return count


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
    if len(shape) != 4 or shape[1:] != models.IMAGE_SHAPE:
        raise ValueError(
            f"{name} must yield batches of shape (batch, 28, 28, 1); it yields {shape}. "
            "Batch it (make_dataset does) and give the images a channel axis, x[..., None]."
        )
    if spec.dtype != tf.float32:
        raise ValueError(
            f"{name} must yield float32 pixels in [0, 1]; it yields {spec.dtype.name}. "
            "Convert with vae_helpers.data.to_unit_images, or build it with make_dataset."
        )
