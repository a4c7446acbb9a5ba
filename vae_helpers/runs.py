"""The book's trained models, defined once: chapters 5-8 train or load them through `book_model`.

A run is named by everything that defines it (latent size, beta, binarisation, data, quick or full
mode), and its checkpoint lives under that name. So chapter 6 finds the model chapter 5 trained, a
chapter run on its own trains the model it needs instead of failing, and a quick-mode checkpoint is
never mistaken for a full-mode one.

The data are named by a fingerprint of the very images a run trains and is tested on (a SHA-256 of
their bytes): its first 8 hex digits are in the checkpoint's name, so another split of the bundled
digits, or another file that is also called mnist.npz, gets a checkpoint of its own; the whole of it
is in the checkpoint's run record, and a checkpoint whose record names other data is refused (never
overwritten: it may be someone's only copy) with a `training.CheckpointMismatchError`.

A run whose checkpoint is missing first looks for the model the published book trained
(`published.fetch`: checked, then loaded instead of trained); VAE_FETCH_MODELS=0 trains it here.
"""

import os
import re
import sys

from vae_helpers import checkpoints, config, data, likelihoods, models, published, training

BATCH_SIZE = 32
"""The TF tutorial's batch size, used for every run in the book."""

LEARNING_RATE = training.DEFAULT_LEARNING_RATE
"""Adam's step size for every book run: `training.DEFAULT_LEARNING_RATE`, where it is explained."""

FULL_EPOCHS = {"keras": 10, "bundled": 15}
"""Full-mode epochs by data size: the TF tutorial's 10 passes over full MNIST's 60,000 digits ("keras"),
or 15 over a subset like the bundled 4,000 digits (fewer images per pass, so more passes; 1,875 Adam
steps). 15, not more, so that the whole book builds in 20 minutes on 2 CPUs (the budget
benchmarks/chapter_map.py holds): at 40 epochs the 16-D model's test ELBO was 3.9 nats higher
(-104.92 against -108.82 nats per image, measured on 2026-12-02)."""

FULL_SIZE_TRAIN_IMAGES = 30_000
"""Training sets of at least this many images get full MNIST's epochs, whatever their source (a
downloaded copy, or an .npz file of 60,000 images); smaller ones are subsets."""

STEPS_PER_EXECUTION = 32
"""Training steps per call into the compiled graph: fewer round trips between Python and TensorFlow
(measured by benchmarks/train_speed.py; rounded down to 25 for 125 batches per epoch)."""

QUICK_TRAIN_IMAGES = 1024
QUICK_TEST_IMAGES = 256


DRIVE = "/content/drive"
"""Where `keep_checkpoints_on_drive` mounts Google Drive in Colab (Colab's own convention)."""


def _checkpoint_env():
    """$VAE_CHECKPOINT_DIR with its surrounding blanks removed; "" when unset or empty."""
    return os.environ.get("VAE_CHECKPOINT_DIR", "").strip()


def checkpoint_dir():
    """Where runs are saved: $VAE_CHECKPOINT_DIR (with ~ expanded), else `checkpoints/` in the
    working directory (also when the variable is set but empty)."""
    directory = os.path.expanduser(_checkpoint_env() or "checkpoints")
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise ValueError(
            f"VAE_CHECKPOINT_DIR={directory!r} is a file, not a folder: set VAE_CHECKPOINT_DIR to a "
            "folder (it is created if missing), or unset it to use checkpoints/."
        )
    return directory


def shown_checkpoint_dir():
    """The checkpoint folder as a page prints it: "checkpoints/", or "$VAE_CHECKPOINT_DIR" when that
    variable names it (a built page must not carry a path of the machine that built it)."""
    return "$VAE_CHECKPOINT_DIR" if _checkpoint_env() else "checkpoints/"


def keep_checkpoints_on_drive(folder="vae-book-checkpoints"):
    """In Colab: mounts Google Drive and sets VAE_CHECKPOINT_DIR to MyDrive/`folder`, so that the
    models a chapter trains outlast the runtime. Call it in the setup cell, before any training.

    Args:
      folder: a folder inside MyDrive (created if missing).
    Raises:
      RuntimeError: not in Colab (elsewhere, set VAE_CHECKPOINT_DIR to a lasting folder).
    """
    if not isinstance(folder, str) or not folder.strip() or os.path.isabs(folder) or ".." in folder.split("/"):
        raise ValueError(
            f"folder must name a folder inside MyDrive, such as 'vae-book-checkpoints'; got {folder!r}."
        )
    if "google.colab" not in sys.modules:
        raise RuntimeError(
            "keep_checkpoints_on_drive is for Google Colab, where it mounts Google Drive. Here, set "
            "VAE_CHECKPOINT_DIR to a folder that lasts (checkpoints/ in the working folder by default)."
        )
    from google.colab import drive

    drive.mount(DRIVE)
    directory = os.path.join(DRIVE, "MyDrive", folder.strip())
    os.makedirs(directory, exist_ok=True)
    os.environ["VAE_CHECKPOINT_DIR"] = directory
    print(f"Checkpoints are kept on Google Drive, in MyDrive/{folder.strip()} (VAE_CHECKPOINT_DIR).")


def source_tag(mnist):
    """A short name for the data: "mnist" (full), "bundled", or the .npz file's stem."""
    if mnist.source == "keras":
        return "mnist"
    if mnist.source == "bundled":
        return "bundled"
    return "npz-" + os.path.splitext(os.path.basename(mnist.source))[0]


def epochs_for(mnist):
    """Epochs of a book run on `mnist`: `FULL_EPOCHS` in full mode (by the number of training
    images, not the source), 1 in quick mode."""
    full_size = len(mnist.train_images) >= FULL_SIZE_TRAIN_IMAGES
    full = FULL_EPOCHS["keras"] if full_size else FULL_EPOCHS["bundled"]
    return config.pick(full=full, quick=1)


def train_images(mnist):
    """The training images of a book run: all of them, or the first 1,024 in quick mode."""
    return mnist.train_images[: config.pick(full=len(mnist.train_images), quick=QUICK_TRAIN_IMAGES)]


def test_images(mnist, binarization="dynamic"):
    """The fixed test set every book run is scored on, (N, 28, 28, 1) float32 (256 in quick mode):
    0/1 draws made once ("dynamic" or "static"), or the grey levels as they are ("as_is")."""
    count = config.pick(full=len(mnist.test_images), quick=QUICK_TEST_IMAGES)
    _check_binarization(binarization)
    if binarization == "as_is":
        return data.to_unit_images(mnist.test_images[:count])
    return data.binarize_once(mnist.test_images[:count], binarization)


def experiment_epochs(mnist):
    """Epochs of each run of chapter 9's experiment: three tenths of `epochs_for(mnist)` (4 of the
    bundled data's 15), at least 1, so that its nine runs (three arms, three seeds) fit a chapter
    of about four minutes on 2 CPUs (the budget in benchmarks/chapter_map.py)."""
    return max(1, epochs_for(mnist) * 3 // 10)


def data_fingerprint(mnist, binarization="dynamic"):
    """The fingerprint of what a book run trains and is tested on: `data.fingerprint` of
    `train_images(mnist)` and `test_images(mnist, binarization)` (so it differs by mode too)."""
    return data.fingerprint(train_images(mnist), test_images(mnist, binarization))


def checkpoint_name(mnist, model, binarization="dynamic", epochs=None, fingerprint=None):
    """The checkpoint file name of a run: the model's class, every constructor setting (in its
    config's order, `checkpoints.model_settings`), the
    binarisation, the epochs, the data (source and the first 8 hex digits of its fingerprint,
    computed here unless given) and the mode, e.g.
    "cvae-latent_dim16-seed42-beta1-dynamic-15ep-bundled-1a2b3c4d-full.keras"."""
    mode = "quick" if config.is_quick() else "full"
    epochs = epochs_for(mnist) if epochs is None else config.positive_int("epochs", epochs)
    fingerprint = fingerprint or data_fingerprint(mnist, _check_binarization(binarization))
    settings = "-".join(f"{key}{value:g}" if isinstance(value, float) else f"{key}{value}"
                        for key, value in checkpoints.model_settings(model).items())
    name = (f"{type(model).__name__.lower()}-{settings}-{binarization}-{epochs}ep-{source_tag(mnist)}-"
            f"{fingerprint[:8]}-{mode}.keras")
    # A setting is a number or a short word; anything else must not reach the file system.
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def run_name(mnist, latent_dim, beta=1.0, binarization="dynamic", fingerprint=None):
    """The checkpoint file name of the book's CVAE run `book_model(mnist, latent_dim, beta=beta,
    binarization=binarization)` would train: `checkpoint_name` of that model."""
    return checkpoint_name(mnist, book_cvae(latent_dim, beta), binarization, fingerprint=fingerprint)


def book_cvae(latent_dim, beta=1.0):
    """A fresh CVAE as every book run starts one: seeded with `config.SEED`."""
    return models.CVAE(latent_dim, seed=config.SEED, beta=beta)


def book_model(mnist, latent_dim, *, beta=1.0, binarization="dynamic", on_epoch_end=None, callbacks=(),
               verbose="auto"):
    """Trains one of the book's CVAEs (`train_model` of `book_cvae(latent_dim, beta)`).

    Args:
      mnist: a `vae_helpers.data.MNIST`.
      latent_dim: size of z (2 for the pictures of chapter 6, 16 for the results).
      beta: weight of the KL term in the training loss (1.0: the ELBO).
      binarization, on_epoch_end, callbacks, verbose: as for `train_model`.
    Returns:
      A `vae_helpers.training.TrainingRun`; `run.history["val_elbo"]` is the test ELBO per epoch.
    """
    if binarization not in ("static", "dynamic"):  # a Bernoulli decoder models 0/1 pixels
        raise ValueError(f"binarization must be 'static' or 'dynamic'; got {binarization!r}.")
    return train_model(mnist, book_cvae(latent_dim, beta), binarization=binarization,
                       on_epoch_end=on_epoch_end, callbacks=callbacks, verbose=verbose)


def train_model(mnist, model, *, binarization="dynamic", epochs=None, on_epoch_end=None, callbacks=(),
                verbose="auto"):
    """The one training recipe of every model the book trains: trains `model`, resuming or loading
    its checkpoint `checkpoint_name(...)` under `checkpoint_dir()` when there is one (or, when
    there is none, the published book's: `published.fetch`, off with VAE_FETCH_MODELS=0).

    Every run takes the same batch size, learning rate and steps per execution; its training
    batches are shuffled and binarised with the model's seed (`config.SEED` when it has none).

    Args:
      mnist: a `vae_helpers.data.MNIST`.
      model: a fresh model of the contract (`models.VAEBase`), seeded; one that `uses_labels`
        is given (images, labels) batches.
      binarization: "dynamic" (the book's default: a fresh draw of every pixel each epoch),
        "static" (the TF tutorial's threshold at 0.5), or "as_is" (grey levels, for another
        likelihood, `likelihoods.check_training_data`); the test set is `test_images(mnist,
        binarization)`.
      epochs: positive int, or None for `epochs_for(mnist)` (the book's budget).
      on_epoch_end, callbacks, verbose: as in `vae_helpers.training.train` (`notebook.fit_log`
        gives callbacks and verbose that print one line per epoch).
    Returns:
      A `vae_helpers.training.TrainingRun`.
    Raises:
      training.CheckpointMismatchError: the checkpoint of this name holds a run on other data or
        of other settings (the message names the fix: another VAE_CHECKPOINT_DIR).
    """
    binarization = _check_binarization(binarization)
    if not isinstance(model, models.VAEBase):
        raise TypeError(f"train_model expects a model of vae_helpers.models (a VAEBase); got {type(model).__name__}.")
    likelihood = getattr(model, "likelihood", None)
    if likelihood is not None:
        likelihoods.check_training_data(likelihood, binarization != "as_is")
    epochs = epochs_for(mnist) if epochs is None else config.positive_int("epochs", epochs)
    seed = model.seed if isinstance(model.seed, int) else config.SEED
    train, test = train_images(mnist), test_images(mnist, binarization)
    labels = model.uses_labels
    train_data = data.make_dataset(
        train, batch_size=BATCH_SIZE, binarization=binarization, shuffle=True, seed=seed,
        labels=model.training_labels(mnist.train_labels[: len(train)]) if labels else None,
        allow_unlabelled=model.unlabelled_ok,
    )
    test_data = data.make_dataset(
        test, batch_size=BATCH_SIZE, binarization="as_is", shuffle=False,
        labels=mnist.test_labels[: len(test)] if labels else None,
    )
    # Named in the checkpoint's file name, and recorded in it whole, so that a published model can
    # be checked against the learner's data before it is used (published.fetch).
    fingerprint = data.fingerprint(train, test)
    checkpoint = os.path.join(checkpoint_dir(), checkpoint_name(mnist, model, binarization, epochs, fingerprint))
    published.fetch(checkpoint, model, epochs, fingerprint)
    return training.train(
        model,
        train_data,
        test_data,
        epochs,
        learning_rate=LEARNING_RATE,
        steps_per_execution=STEPS_PER_EXECUTION,
        checkpoint=checkpoint,
        data_fingerprint=fingerprint,
        on_epoch_end=on_epoch_end,
        callbacks=callbacks,
        verbose=verbose,
    )


def _check_binarization(binarization):
    if binarization not in data.BINARIZATIONS:
        raise ValueError(f"binarization must be one of {data.BINARIZATIONS}; got {binarization!r}.")
    return binarization
