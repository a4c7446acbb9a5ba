"""The published models: when a run's checkpoint is missing, the one the published book trained is
fetched, checked and put in its place, so that a learner on a fresh runtime does not train it again.

The Pages workflow builds the book in full mode, then `tools/publish_models.py` copies each finished
checkpoint into the site's models/ folder beside a manifest.json that lists, for each file, its
name, SHA-256, size and run record (`record_of`: the model's settings, the data fingerprint and the
epochs). `fetch` downloads a checkpoint only when the manifest lists its name, and keeps it only
when its SHA-256 is the manifest's and both records (the manifest's and the file's own) name this
run's data, settings and epochs. Anything else (no network, a server that never answers, a refused
file) costs at most `TOTAL_SECONDS` and one printed line, and the run trains as it would have.

Settings: VAE_FETCH_MODELS=0 trains instead of fetching; VAE_MODELS_URL fetches from another site.
"""

import contextlib
import hashlib
import json
import os
import re
import threading
import time
import urllib.error
import urllib.request
import zipfile

import keras

import vae_helpers
from vae_helpers import checkpoints, training

SITE_URL = "https://vae-book.github.io/vae-book/"
"""The published book: GitHub Pages of `repository.url` in _config.yml (tests/test_published_models.py
checks that they agree; the package cannot read _config.yml, which Colab does not install)."""

MODELS_URL = SITE_URL + "models/"
"""Where the published models and their manifest.json live."""

URL_ENV = "VAE_MODELS_URL"
"""Names another folder of published models (a mirror, or a test's local server)."""

FETCH_ENV = "VAE_FETCH_MODELS"
"""Set to 0 to train every run here instead of fetching it (the published build does)."""

MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1

TIMEOUT_SECONDS = 5.0
"""Connecting, and each read from the socket, give up after this long."""

TOTAL_SECONDS = 60.0
"""The whole fetch (manifest and model, about 1 MB each run) gives up after this long, even when a
server trickles bytes slowly enough that no single read times out."""

MAX_MODEL_BYTES = 64 * 2**20
MAX_MANIFEST_BYTES = 2**20

_ON = {"", "1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off"}


class _Unavailable(Exception):
    """No published model could be had (network, server, manifest)."""


class _Refused(Exception):
    """A published model was found but fails a check: it must not be used."""


def fetching():
    """Whether runs fetch published models: yes unless $VAE_FETCH_MODELS says 0 (read on every call)."""
    value = os.environ.get(FETCH_ENV, "").strip().lower()
    if value in _ON:
        return True
    if value in _OFF:
        return False
    raise ValueError(
        f"{FETCH_ENV}={os.environ[FETCH_ENV]!r} is not understood: set {FETCH_ENV}=0 to train "
        f"instead of fetching published models, or {FETCH_ENV}=1 (or leave it unset) to fetch them."
    )


def models_url():
    """The folder of published models: $VAE_MODELS_URL, else `MODELS_URL`; ends with "/"."""
    url = os.environ.get(URL_ENV, "").strip() or MODELS_URL
    return url if url.endswith("/") else url + "/"


def record_of(path):
    """What a manifest says of a checkpoint file besides its name, hash and size: {"model": Keras'
    registered class name, "settings": the model's config, "latent_dim", "beta",
    "data_fingerprint", "epochs_done"}. Raises `training.CheckpointMismatchError` for a file that
    is not a checkpoint of `training.train`."""
    state = training.checkpoint_state(path)
    try:
        with zipfile.ZipFile(path) as archive:
            saved = json.loads(archive.read("config.json"))
        model, settings = saved["registered_name"] or saved["class_name"], saved["config"]
    except (KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise training.CheckpointMismatchError(
            f"{path} holds no readable Keras config.json ({type(error).__name__}: {error})."
        ) from None
    return {
        "model": model,
        "settings": checkpoints.settings_of(settings),
        **{k: state.get(k) for k in ("latent_dim", "beta", "data_fingerprint", "epochs_done")},
    }


def fetch(checkpoint, model, epochs, data_fingerprint):
    """Puts the published model of `checkpoint`'s file name at `checkpoint` when no file is there
    and fetching is on, after checking it; `training.train` then loads it as a finished run.

    Prints one line whenever it contacts the server: the model it placed, or why it placed none
    (the run then trains as it would have). Never replaces a file: one that appears at
    `checkpoint` meanwhile is left as it is.

    Args:
      checkpoint: path of the run's `.keras` checkpoint.
      model: the run's fresh model (its class and config must be the published one's).
      epochs: the run's epochs (the published one must hold exactly these).
      data_fingerprint: `data.fingerprint` of the run's training and test images.
    Returns:
      True when a published model was placed at `checkpoint`.
    Raises:
      ValueError: $VAE_FETCH_MODELS is neither 0 nor 1.
    """
    checkpoint = os.fspath(checkpoint)
    if not fetching() or os.path.lexists(checkpoint):
        return False
    # What a fetch killed mid-download left (its process is gone) would stay for ever.
    checkpoints.remove_stale_temporaries(os.path.abspath(checkpoint))
    name, url = os.path.basename(checkpoint), models_url()
    deadline = time.monotonic() + TOTAL_SECONDS
    try:
        wanted = {
            "model": keras.saving.get_registered_name(type(model)),
            "settings": checkpoints.model_settings(model),
            "latent_dim": model.latent_dim,
            "beta": model.beta,
            "data_fingerprint": data_fingerprint,
            "epochs_done": epochs,
        }
        entry = _listed(_get(url + MANIFEST, MAX_MANIFEST_BYTES, deadline), name)
        _compare(entry["record"], wanted, "the manifest's record")
        body = _get(url + name, entry["size"], deadline)
        if len(body) != entry["size"] or hashlib.sha256(body).hexdigest() != entry["sha256"]:
            raise _Refused("its SHA-256 or size is not the manifest's (a corrupt or altered download)")
        placed = _place(checkpoint, body, wanted)
    except _Unavailable as reason:
        print(f"No published model {name} ({reason}); training it here.")
        return False
    except _Refused as reason:
        print(f"Refused the published model {name}: {reason}. Nothing was kept; training it here "
              f"instead (set {FETCH_ENV}=0 to train without fetching).")
        return False
    except Exception as error:  # whatever went wrong, the run trains as it would have
        print(f"No published model {name} ({type(error).__name__}: {error}); training it here.")
        return False
    if not placed:
        print(f"A checkpoint {name} appeared while the published one was fetched; it was left as it is.")
        return False
    print(f"Loaded the published model {name} (SHA-256, data fingerprint and settings verified).")
    return True


def _get(url, limit, deadline):
    """The body of `url`, at most `limit` bytes, by `deadline` (`time.monotonic()`). The request
    runs in a thread of its own: a name lookup or a server that never answers cannot hold the run
    past the deadline (an abandoned request touches no file, and ends at its next timeout)."""
    result = {}

    def request():
        try:
            result["body"] = _read(url, limit, deadline)
        except BaseException as error:  # handed to the caller, who decides
            result["error"] = error

    worker = threading.Thread(target=request, name="vae-fetch-model", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise _Unavailable(f"no answer within {TOTAL_SECONDS:g} s")
    error = result.get("error")
    if isinstance(error, (_Unavailable, _Refused)):
        raise error
    if isinstance(error, urllib.error.HTTPError):
        raise _Unavailable(f"HTTP {error.code} from {url}")
    if isinstance(error, urllib.error.URLError):
        raise _Unavailable(f"cannot reach {url}: {error.reason}")
    if error is not None:
        raise _Unavailable(f"cannot read {url}: {type(error).__name__}: {error}")
    return result["body"]


def _read(url, limit, deadline):
    request = urllib.request.Request(url, headers={"User-Agent": f"vae_helpers/{vae_helpers.__version__}"})
    chunks, size = [], 0
    with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
        while chunk := response.read1(2**16):
            size += len(chunk)
            if size > limit:
                raise _Refused(f"{url} is larger than the {limit} bytes expected")
            if time.monotonic() > deadline:
                raise _Unavailable(f"not all of it within {TOTAL_SECONDS:g} s")
            chunks.append(chunk)
    return b"".join(chunks)


def _listed(body, name):
    """The manifest's entry for `name`: {"name", "sha256", "size", "record"}."""
    try:
        manifest = json.loads(body)
        if manifest.get("format") != MANIFEST_FORMAT or not isinstance(manifest.get("models"), list):
            raise ValueError(f"not a manifest of format {MANIFEST_FORMAT}")
        version = manifest.get("vae_helpers")
        if version != vae_helpers.__version__:
            raise _Unavailable(f"the published models are of vae_helpers {version}, this is "
                               f"{vae_helpers.__version__}")
        entries = [entry for entry in manifest["models"] if entry.get("name") == name]
        if not entries:
            raise _Unavailable("not among the published models")
        entry = entries[0]
        if not (re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256")))
                and type(entry.get("size")) is int and 0 < entry["size"] <= MAX_MODEL_BYTES
                and isinstance(entry.get("record"), dict)):
            raise ValueError(f"its entry for {name} lacks a sha256, a size or a record")
    except (ValueError, TypeError, AttributeError) as error:  # JSONDecodeError is a ValueError
        raise _Unavailable(f"the manifest is malformed: {error}") from None
    return entry


def _compare(record, wanted, where):
    for key, value in wanted.items():
        if record.get(key) != value:
            if key == "data_fingerprint":
                saved = str(record.get(key))[:12]
                raise _Refused(
                    f"{where} says it was trained on data with fingerprint {saved}, and this run's "
                    f"data has {str(value)[:12]} (other images, or another split, than the published "
                    "book's, which trains on full MNIST as data.load_mnist() downloads it)"
                )
            saved = record.get(key)
            if isinstance(saved, dict) and isinstance(value, dict):  # name the settings that differ
                differ = sorted(k for k in {*saved, *value} if saved.get(k) != value.get(k))
                raise _Refused(f"{where} has " + ", ".join(f"{k}={saved.get(k)!r}" for k in differ)
                               + " and this run has " + ", ".join(f"{k}={value.get(k)!r}" for k in differ))
            raise _Refused(f"{where} has {key}={saved!r}, and this run has {value!r}")


def _place(checkpoint, body, wanted):
    """Writes `body` to a new temporary file beside `checkpoint`, checks the run record inside it,
    then links it into place; False (and nothing changed) if a file appeared there meanwhile."""
    target = os.path.abspath(checkpoint)
    try:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        # A new file (mkstemp, O_EXCL: a planted file or link is never followed), named with this
        # host and process id so that the next fetch or save can remove it if this one is killed.
        temporary = checkpoints.temporary_file(target, ".download", body)
    except OSError as error:
        raise _Unavailable(f"cannot write to the checkpoint folder: {error.strerror or error}") from None
    try:
        try:
            record = record_of(temporary)
        except training.CheckpointMismatchError:
            raise _Refused("it is not a checkpoint written by vae_helpers.training.train") from None
        _compare(record, wanted, "its own run record")
        try:
            # A hard link never replaces a file: it fails if one appeared at `checkpoint`.
            os.link(temporary, checkpoint)
        except FileExistsError:
            return False
        except OSError:  # a folder without hard links (some mounted drives): check, then rename
            if os.path.lexists(checkpoint):
                return False
            os.rename(temporary, checkpoint)
        return True
    except OSError as error:
        raise _Unavailable(f"cannot write to the checkpoint folder: {error.strerror or error}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
