"""The checkpoint format of `training.train`: one `.keras` file holding the model, its optimizer
state and a small JSON run record (epochs done, the per-epoch history, the state of the model's
noise, the data's fingerprint, the model's class and settings).

`save` writes it to a temporary file beside the target and renames it over the old one, so a kill
at any moment leaves either the previous epoch's checkpoint or the new one, never half of one.
`resume` reads one back, refusing a file that belongs to another run, and never deletes one: it
may hold a learner's only copy of hours of training. `training` saves after every epoch,
`distributed` through the same `save`, and `published` downloads into a `temporary_file`.
"""

import contextlib
import json
import os
import re
import socket
import stat
import tempfile
import zipfile

import keras
import numpy as np

from vae_helpers import models

STATE_ENTRY = "vae_helpers_training.json"
"""The name of the run record inside a checkpoint's zip archive (Keras ignores entries it does not know)."""


class CheckpointMismatchError(ValueError):
    """A checkpoint does not belong to the run that asked for it."""


# Every message about a checkpoint that cannot be used ends with this: the file may hold a learner's
# only copy of hours of training, so the fix is never to delete it.
_ANOTHER_PATH = (
    "It was left as it is: pass another checkpoint path to train afresh (for the book's runs, set "
    "VAE_CHECKPOINT_DIR to another folder)"
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


def resume(path, model, epochs, data_fingerprint):
    """The model a checkpoint holds, with its noise state, history and epochs done:
    (model, history, epochs_done), after refusing (`CheckpointMismatchError`) a checkpoint of
    another class, setting, data fingerprint, or of more epochs than `epochs`."""
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
    if not isinstance(loaded, models.VAEBase):
        raise CheckpointMismatchError(
            f"{path} holds a {type(loaded).__name__}, not a model of vae_helpers.models. {_ANOTHER_PATH}."
        )
    loaded.noise.state.assign(np.asarray(state["noise_state"], dtype=loaded.noise.state.dtype))
    return loaded, state["history"], state["epochs_done"]


# Keras' own fields of every model's config: the same for every run ("name" is numbered by how
# many models a session made), so they say nothing about which model a checkpoint holds.
_KERAS_FIELDS = ("name", "trainable", "dtype")


def _model_class(model):
    """Keras' registered name of the model's class, e.g. "vae_helpers>FreeBitsCVAE"."""
    return keras.saving.get_registered_name(type(model))


def settings_of(config):
    """A model's constructor settings from its Keras config: the config without `_KERAS_FIELDS`."""
    return {k: v for k, v in config.items() if k not in _KERAS_FIELDS}


def model_settings(model):
    """The model's constructor settings (`settings_of` its `get_config()`), as JSON holds them
    (so a saved record and a live model compare equal)."""
    return json.loads(json.dumps(settings_of(model.get_config()), default=repr))


def _saved_model(path, state):
    """(class name, settings) of the model a checkpoint holds: from its run record, or, in a
    checkpoint written before the record held them, from Keras' config.json beside it."""
    if "model" in state and "settings" in state:
        return state["model"], state["settings"]
    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read("config.json"))
        settings = settings_of(saved["config"])
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
    wanted_class, wanted = _model_class(model), model_settings(model)
    fix = _ANOTHER_PATH

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


def check_writable(path):
    """Raises a ValueError naming the fix unless a checkpoint can be written at `path`, by writing
    (and removing) a small temporary file where `save` will write its own."""
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
                remove_stale_temporaries(target)
                probe = temporary_file(target, ".probe",
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


def save(path, model, history, data_fingerprint=None):
    """Writes a checkpoint as `train` does after every epoch: `model` with its optimizer state and
    the run record that `checkpoint_state` reads, written beside `path`, then renamed over it
    (atomic on one filesystem).

    Args:
      path: a `.keras` path. The caller decides whether a file already there may be replaced.
      model: a `CVAE`.
      history: {metric name: list of per-epoch floats}; its "elbo" list counts the epochs done.
      data_fingerprint: a string naming the data (see `training.train`), or None.

    A symbolic link (a checkpoint kept on Google Drive, linked into Colab's disk) is written
    through: the temporary file goes beside the link's target, and replaces the target, so the
    link stays a link and the persistent copy advances.
    """
    target = os.path.realpath(path)
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(target)
    state = {
        "epochs_done": len(history["elbo"]),
        "history": history,
        "latent_dim": model.latent_dim,
        "beta": model.beta,
        "noise_state": np.asarray(model.noise.state.numpy()).tolist(),
        "data_fingerprint": data_fingerprint,
        # What resuming compares with the model it is given: the exact class and every setting.
        "model": _model_class(model),
        "settings": model_settings(model),
    }
    temporary = temporary_file(target, ".partial.keras")
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


def temporary_file(target, suffix, content=b""):
    """Creates a new file holding `content` beside checkpoint `target`, and returns its path.

    mkstemp makes it with O_EXCL, so a file or link planted at its name is never written
    through. The name holds the checkpoint's name, this host and this process id, then
    mkstemp's random letters: `.NAME.HOST.PID.RANDOM` + `suffix`. A later save reads the id
    back to remove what a killed process left (`remove_stale_temporaries`). `published`
    downloads into one too (suffix ".download").
    """
    handle, path = tempfile.mkstemp(
        suffix=suffix, prefix=f".{os.path.basename(target)}.{host()}.{os.getpid()}.",
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


def remove_stale_temporaries(target):
    """Removes the temporary files beside checkpoint `target` that a process of this host left
    when it was killed mid-save or mid-download (`published.fetch`): regular files whose name is
    exactly `temporary_file`'s for this checkpoint, of a process id that no longer runs. A live
    writer's file, a link, a folder or any other name is left alone (os.remove never follows a
    link)."""
    directory, name = os.path.split(target)
    pattern = re.compile(
        re.escape(f".{name}.{host()}.")
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


def host():
    """This machine's name, as it may appear in a file name."""
    return re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:64] or "host"


def _umask():
    """The process's umask (os.umask can only be read by setting it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
