"""Training a `CVAE` with `model.fit`: a test ELBO every epoch, checkpoints that survive being killed,
and a clear stop when the loss stops being a number.

A checkpoint is one `.keras` file holding the model, the optimizer state and a small JSON record of
the run (epochs done, the per-epoch history, the state of the model's noise). It is written to a
temporary file and renamed over the old one, so a kill at any moment leaves either the previous
epoch's checkpoint or the new one, never half of one.
"""

import contextlib
import dataclasses
import json
import logging
import math
import os
import re
import socket
import stat
import tempfile
import time
import zipfile

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, data, likelihoods, model_base, models, precision

STATE_ENTRY = "vae_helpers_training.json"
"""The name of the run record inside a checkpoint's zip archive (Keras ignores entries it does not know)."""

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
      precision: the policy this call trained in (`precision.training_policy`): "float32", or
        "mixed_bfloat16" (float32 weights, logits and losses; bfloat16 maths inside the halves);
        None when it trained nothing (the checkpoint was finished).
    """

    model: models.CVAE
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
      model: a `CVAE`. If `checkpoint` exists, the model saved there replaces it; it must be of
        the same class and settings (`get_config()`), else `CheckpointMismatchError`.
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
    if not isinstance(model, models.CVAE):
        raise TypeError(f"train expects a vae_helpers.models.CVAE; got {type(model).__name__}.")
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
        model, history, done = _resume(checkpoint, model, epochs, data_fingerprint)
        optimizer = model.optimizer  # with its saved state
    else:
        optimizer = keras.optimizers.Adam(learning_rate)
    if done >= epochs:
        return TrainingRun(model, history, resumed_from=done, seconds=0.0)
    # Problems found here cost seconds; found by fit, they cost an epoch or come as a NaN "ELBO".
    # Reading a batch draws one pass of a reshuffling pipeline: fresh and resumed runs both do it
    # here, before the replay below, so a resumed run still sees what an uninterrupted one saw.
    if checkpoint is not None:
        _check_writable(checkpoint)
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


# Every message about a checkpoint that cannot be used ends with this: the file may hold a learner's
# only copy of hours of training, so the fix is never to delete it.
_ANOTHER_PATH = (
    "It was left as it is: pass another checkpoint path to train afresh (for the book's runs, set "
    "VAE_CHECKPOINT_DIR to another folder)"
)


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


def checkpoint_state(path):
    """The run record of a checkpoint: {"epochs_done", "history", "latent_dim", "beta", "noise_state",
    "data_fingerprint", "model", "settings"} ("data_fingerprint" is None, or absent in checkpoints
    of vae_helpers 0.1; "model", Keras' registered class name, and "settings", the model's config
    without Keras' own fields, are absent in checkpoints written before they were recorded)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointMismatchError(f"{path} is a folder, not a checkpoint file. {_ANOTHER_PATH}.")
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.namelist()
            if STATE_ENTRY not in entries:
                kind = "a Keras model file" if "config.json" in entries else "a zip archive"
                raise CheckpointMismatchError(
                    f"{path} is {kind} but not a checkpoint written by vae_helpers.training.train "
                    f"(it holds no run record, so it cannot be resumed). {_ANOTHER_PATH}; to use "
                    "the model itself, load it with keras.models.load_model."
                )
            return json.loads(archive.read(STATE_ENTRY))
    except (zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise CheckpointMismatchError(
            f"{path} is not a checkpoint written by vae_helpers.training.train ({error}: corrupt, "
            f"truncated or another kind of file). {_ANOTHER_PATH}."
        ) from None


def _resume(path, model, epochs, data_fingerprint):
    state = checkpoint_state(path)
    _check_same_model(path, state, model)
    saved_fingerprint = state.get("data_fingerprint")
    if data_fingerprint is not None and saved_fingerprint != data_fingerprint:
        trained_on = ("data of unknown fingerprint" if saved_fingerprint is None
                      else f"data with fingerprint {saved_fingerprint[:12]}")
        raise CheckpointMismatchError(
            f"{path} holds a model trained on {trained_on}, but this run's data has fingerprint "
            f"{data_fingerprint[:12]}: resuming would mix two data sets, and its test ELBO would "
            f"score images it may have trained on. {_ANOTHER_PATH}."
        )
    if state["epochs_done"] > epochs:
        raise CheckpointMismatchError(
            f"{path} already holds {state['epochs_done']} epochs, more than the {epochs} asked for: "
            f"ask for epochs={state['epochs_done']} or more, or use another checkpoint path."
        )
    try:
        loaded = keras.models.load_model(path)
    except Exception as error:  # Keras raises ValueError, TypeError or KeyError, by what differs.
        text = str(error).strip()
        reason = text.splitlines()[0][:200].rstrip(":. ") if text else type(error).__name__
        raise CheckpointMismatchError(
            f"{path} holds a model that this version of vae_helpers cannot load (another "
            f"architecture, or saved by another version: {reason}). {_ANOTHER_PATH}, or install "
            "the version of vae_helpers that wrote it."
        ) from error
    if not isinstance(loaded, models.CVAE):
        raise CheckpointMismatchError(
            f"{path} holds a {type(loaded).__name__}, not a vae_helpers CVAE. {_ANOTHER_PATH}."
        )
    loaded.noise.state.assign(np.asarray(state["noise_state"], dtype=loaded.noise.state.dtype))
    return loaded, state["history"], state["epochs_done"]


# Keras' own fields of every model's config: the same for every run ("name" is numbered by how
# many models a session made), so they say nothing about which model a checkpoint holds.
_KERAS_FIELDS = ("name", "trainable", "dtype")


def _model_class(model):
    """Keras' registered name of the model's class, e.g. "vae_helpers>FreeBitsCVAE"."""
    return keras.saving.get_registered_name(type(model))


def _model_settings(model):
    """The model's constructor settings, `get_config()` without `_KERAS_FIELDS`, as JSON holds
    them (so a saved record and a live model compare equal)."""
    settings = {k: v for k, v in model.get_config().items() if k not in _KERAS_FIELDS}
    return json.loads(json.dumps(settings, default=repr))


def _saved_model(path, state):
    """(class name, settings) of the model a checkpoint holds: from its run record, or, in a
    checkpoint written before the record held them, from Keras' config.json beside it."""
    if "model" in state and "settings" in state:
        return state["model"], state["settings"]
    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read("config.json"))
        settings = {k: v for k, v in saved["config"].items() if k not in _KERAS_FIELDS}
        return saved.get("registered_name") or saved["class_name"], settings
    except (KeyError, TypeError, AttributeError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise CheckpointMismatchError(
            f"{path} holds no readable model config ({type(error).__name__}: {error}), so it "
            f"cannot be told whose model it is. {_ANOTHER_PATH}."
        ) from None


def _check_same_model(path, state, model):
    """Refuses a checkpoint whose model is not of `model`'s exact class and settings.

    Every setting counts, the seed too: it sets the noise the saved model trained with (and the
    checkpoint restores that noise's state), so resuming under another seed would hand back
    another run than the one asked for; `published.fetch` refuses another seed alike.
    """
    saved_class, saved = _saved_model(path, state)
    wanted_class, wanted = _model_class(model), _model_settings(model)
    fix = f"{_ANOTHER_PATH}; for a variant of chapter 9, give variants.train another tag"

    def short(name):
        return str(name).rpartition(">")[2]

    if saved_class != wanted_class:
        raise CheckpointMismatchError(
            f"{path} holds a {short(saved_class)}, but this run's model is a "
            f"{short(wanted_class)}: resuming would hand back another kind of model. {fix}."
        )
    differ = sorted(k for k in {*saved, *wanted} if k not in saved or k not in wanted
                    or saved[k] != wanted[k])
    if differ:
        def settings(values):
            return ", ".join(f"{k}={values[k]!r}" if k in values else f"no {k}" for k in differ)

        raise CheckpointMismatchError(
            f"{path} holds a {short(saved_class)} with {settings(saved)}, but this run's model "
            f"has {settings(wanted)}. {fix}."
        )


def _check_writable(path):
    """Raises a ValueError naming the fix unless a checkpoint can be written at `path`, by writing
    (and removing) a small temporary file where `_save` will write its own."""
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    problem = None
    if os.path.isdir(target):
        problem = f"{target} is a folder, not a file"
    else:
        # The nearest part of the path that exists must be a folder that can be written.
        existing = directory
        while not os.path.exists(existing):
            existing = os.path.dirname(existing)
        if not os.path.isdir(existing):
            problem = f"{existing} is a file, not a folder"
        else:
            try:
                os.makedirs(directory, exist_ok=True)
                _remove_stale_temporaries(target)
                probe = _temporary_file(target, ".probe",
                                        b"vae_helpers checks that this folder is writable")
                os.remove(probe)
            except OSError as error:
                problem = f"{directory} cannot be written ({error.strerror or error})"
    if problem is not None:
        raise ValueError(
            f"Cannot write the checkpoint {path}: {problem}. Choose a checkpoint path in a folder you "
            "can write to (for the book's runs, set VAE_CHECKPOINT_DIR to such a folder). Nothing "
            "was trained yet."
        )


def save_checkpoint(path, model, history, data_fingerprint=None):
    """Writes a checkpoint as `train` does after every epoch: `model` with its optimizer state and
    the run record that `checkpoint_state` reads, written beside `path` and renamed over it.

    Args:
      path: a `.keras` path; a symbolic link is written through. The caller decides whether a
        file already there may be replaced.
      model: a `CVAE`.
      history: {metric name: list of per-epoch floats}; its "elbo" list counts the epochs done.
      data_fingerprint: a string naming the data (see `train`), or None.
    """
    _save(path, model, history, data_fingerprint)


def _save(path, model, history, data_fingerprint=None):
    """Writes the checkpoint beside `path`, then renames it over `path` (atomic on one filesystem).

    A symbolic link (a checkpoint kept on Google Drive, linked into Colab's disk) is written
    through: the temporary file goes beside the link's target, and replaces the target, so the
    link stays a link and the persistent copy advances.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    _remove_stale_temporaries(target)
    state = {
        "epochs_done": len(history["elbo"]),
        "history": history,
        "latent_dim": model.latent_dim,
        "beta": model.beta,
        "noise_state": np.asarray(model.noise.state.numpy()).tolist(),
        "data_fingerprint": data_fingerprint,
        # What resuming compares with the model it is given: the exact class and every setting.
        "model": _model_class(model),
        "settings": _model_settings(model),
    }
    temporary = _temporary_file(target, ".partial.keras")
    try:
        # Keras opens this path with "wb": it is the regular file mkstemp just made, ours alone.
        model.save(temporary)
        with zipfile.ZipFile(temporary, "a") as archive:
            archive.writestr(STATE_ENTRY, json.dumps(state))
        os.replace(temporary, target)
    except BaseException:
        # A full disk fails the save; its half-written temporary file would keep the disk full.
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def _temporary_file(target, suffix, content=b""):
    """Creates a new file holding `content` beside checkpoint `target`, and returns its path.

    mkstemp makes it with O_EXCL, so a file or link planted at its name is never written
    through. The name holds the checkpoint's name, this host and this process id, then
    mkstemp's random letters: `.NAME.HOST.PID.RANDOM` + `suffix`. A later save reads the id
    back to remove what a killed process left (`_remove_stale_temporaries`). `published`
    downloads into one too (suffix ".download").
    """
    handle, path = tempfile.mkstemp(
        suffix=suffix, prefix=f".{os.path.basename(target)}.{_host()}.{os.getpid()}.",
        dir=os.path.dirname(target),
    )
    try:
        try:
            view = memoryview(content)
            while view:  # os.write may write less than it was given (a downloaded model)
                view = view[os.write(handle, view):]
            if hasattr(os, "fchmod"):  # mkstemp's 0600 would pass to the checkpoint
                os.fchmod(handle, 0o666 & ~_umask())
        finally:
            os.close(handle)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(path)
        raise
    return path


def _remove_stale_temporaries(target):
    """Removes the temporary files beside checkpoint `target` that a process of this host left
    when it was killed mid-save or mid-download (`published.fetch`): regular files whose name is
    exactly `_temporary_file`'s for this checkpoint, of a process id that no longer runs. A live
    writer's file, a link, a folder or any other name is left alone (os.remove never follows a
    link)."""
    directory, name = os.path.split(target)
    pattern = re.compile(
        re.escape(f".{name}.{_host()}.")
        + r"([0-9]+)\.[a-z0-9_]+\.(?:partial\.keras|probe|download)"
    )
    try:
        entries = os.listdir(directory)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match is None or _process_runs(int(match.group(1))):
            continue
        path = os.path.join(directory, entry)
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.remove(path)


def _process_runs(pid):
    """Whether process `pid` may still run (True when that cannot be told)."""
    if pid == os.getpid() or os.name != "posix":  # on Windows, os.kill would end the process
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


def _host():
    """This machine's name, as it may appear in a file name."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def _umask():
    """The process's umask (os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


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
            _save(self._checkpoint, self._vae, self.history, self._data_fingerprint)
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
        images = model_base.images_of(batch).numpy()
        data.check_pixel_range(images, f"{name}'s first batch")
        if likelihood is not None:
            likelihoods.check_training_data(likelihood, bool(np.all((images == 0) | (images == 1))))
