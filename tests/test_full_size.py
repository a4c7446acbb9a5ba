"""Full size: $VAE_MNIST points every chapter at a local MNIST-format file, full vs subset epochs
follow the number of training images, and the rehearsal tool reads MNIST's idx format."""

import gzip
import json
import pathlib
import re
import struct
import sys
import types

import numpy as np
import pytest
import yaml

from vae_helpers import data, runs

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import full_size_rehearsal  # noqa: E402


def _write_npz(path, n_train, n_test, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "y_train": rng.integers(0, 10, n_train), "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "y_test": rng.integers(0, 10, n_test)}
    np.savez(path, **arrays)
    return arrays


def _sized(n_train, source):
    # A zero-copy stand-in with the shape of n_train images (60,000 real ones would take 188 MB).
    return types.SimpleNamespace(source=source, train_images=np.broadcast_to(np.float32(0), (n_train, 28, 28, 1)))


def test_vae_mnist_points_the_default_call_at_a_local_file(tmp_path, monkeypatch):
    arrays = _write_npz(tmp_path / "course_copy.npz", 120, 30)
    monkeypatch.setenv("VAE_MNIST", str(tmp_path / "course_copy.npz"))
    mnist = data.load_mnist()  # what every chapter calls
    assert mnist.source == str(tmp_path / "course_copy.npz")
    assert (len(mnist.train_images), len(mnist.test_images)) == (120, 30)
    np.testing.assert_array_equal(mnist.train_images[..., 0], arrays["x_train"] / np.float32(255))
    np.testing.assert_array_equal(mnist.test_labels, arrays["y_test"])
    assert "course_copy.npz (120 train / 30 test images)" in mnist.description
    assert runs.source_tag(mnist) == "npz-course_copy"
    # An explicit source still wins over the variable.
    assert data.load_mnist("bundled").source == "bundled"


def test_vae_mnist_naming_no_file_says_how_to_fix_it(tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_MNIST", str(tmp_path / "missing.npz"))
    with pytest.raises(FileNotFoundError, match=r"VAE_MNIST=.*missing\.npz' names no file: .*or unset VAE_MNIST"):
        data.load_mnist()


def test_an_empty_vae_mnist_is_unset(monkeypatch):
    # The offline fallback is the bundled subset; an empty variable must not be read as a path.
    def offline():
        raise data.DownloadError("no network")

    monkeypatch.setenv("VAE_MNIST", "")
    monkeypatch.setattr(data, "_from_keras", offline)
    assert data.load_mnist().source == "bundled"


@pytest.mark.parametrize(("n_train", "source", "expected"), [
    (60_000, "/data/full_copy.npz", "keras"),  # full MNIST passed by path: 10 epochs, not 40
    (60_000, "keras", "keras"),
    (4_000, "bundled", "bundled"),
    (4_000, "keras", "bundled"),  # a small download is a subset, whatever its source
    (5_000, "/data/my_digits.npz", "bundled"),
])
def test_full_or_subset_epochs_follow_the_number_of_training_images(monkeypatch, n_train, source, expected):
    monkeypatch.setenv("VAE_QUICK", "0")
    assert runs.epochs_for(_sized(n_train, source)) == runs.FULL_EPOCHS[expected]
    monkeypatch.setenv("VAE_QUICK", "1")
    assert runs.epochs_for(_sized(n_train, source)) == 1


def _idx(array):
    """MNIST's idx layout written by hand: two zero bytes, type 0x08 (unsigned byte), the number
    of dimensions, each dimension as a big-endian uint32, then the bytes."""
    return struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def test_the_rehearsal_converts_idx_files_to_the_keras_layout(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {"x_train": rng.integers(0, 256, (50, 28, 28), dtype=np.uint8), "y_train": rng.integers(0, 10, 50).astype(np.uint8),
              "x_test": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), "y_test": rng.integers(0, 10, 20).astype(np.uint8)}
    for key, stem in full_size_rehearsal.IDX_FILES.items():
        # Debian ships them gzipped; plain files (as unpacked by hand) are read too.
        if key.startswith("x"):
            (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(_idx(arrays[key])))
        else:
            (tmp_path / stem).write_bytes(_idx(arrays[key]))
    npz = full_size_rehearsal.convert_idx(tmp_path, tmp_path / "out.npz")
    mnist = data.load_mnist(npz)
    np.testing.assert_array_equal(mnist.train_images[..., 0] * 255, arrays["x_train"])
    np.testing.assert_array_equal(mnist.test_labels, arrays["y_test"])
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx(arrays["y_test"])[:-3])
    with pytest.raises(ValueError, match="truncated"):
        full_size_rehearsal.convert_idx(tmp_path, tmp_path / "out.npz")
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="No t10k-labels-idx1-ubyte"):
        full_size_rehearsal.convert_idx(tmp_path, tmp_path / "out.npz")


def _book_model_calls():
    """(latent_dim, beta, binarization) of every book_model call in the chapters."""
    calls = set()
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        source = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        for match in re.finditer(r"book_model\(mnist, latent_dim=(\d+)(.*?)\)", source):
            rest = match[2]
            binarization = re.search(r'binarization="(\w+)"', rest)
            beta = re.search(r"beta=([\w.]+)", rest)
            if beta and beta[1] == "beta":  # chapter 8's sweep over its list of betas
                betas = [float(b) for b in re.search(r"betas = \[([^\]]+)\]", source)[1].split(",")]
            else:
                betas = [float(beta[1])] if beta else [1.0]
            calls |= {(int(match[1]), b, binarization[1] if binarization else "dynamic") for b in betas}
    return calls


def test_the_rehearsal_times_every_training_run_the_chapters_make():
    calls = _book_model_calls()
    assert len(calls) >= 4, calls
    assert calls == set(full_size_rehearsal.RUNS)


def test_the_projection_replaces_the_subset_training_by_full_size():
    rows = [{"subset_first_epoch_s": 5.0, "subset_epoch_s": 1.0, "full_first_epoch_s": 19.0}]
    evaluation = {"subset": {"scaled_s": 10.0}, "full": {"scaled_s": 100.0}}
    projection = full_size_rehearsal.project(rows, evaluation, {"a.ipynb": 100.0, "b.ipynb": 54.0}, 10, 40)
    # Subset: 5 + 39 x 1 = 44 s of training. Full: the first epoch's 4 s of set-up once, 15 s an epoch.
    assert projection["subset_training_s"] == 44.0
    assert projection["full_training_s"] == 19.0 + 9 * 15.0
    assert projection["other_s"] == 154.0 - 44.0 - 10.0
    assert projection["build_s"] == 100.0 + 154.0 + 100.0
