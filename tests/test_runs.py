import hashlib
import re
import shutil
import sys
import types

import numpy as np
import pytest

from vae_helpers import data, runs, training


class _Source:
    def __init__(self, source):
        self.source = source
        self.train_images = np.zeros((5000, 28, 28, 1), np.float32)
        self.test_images = np.full((700, 28, 28, 1), 0.8, np.float32)


def test_quick_mode_shrinks_epochs_and_image_counts_only(monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "1")
    mnist = _Source("bundled")
    assert runs.epochs_for(mnist) == 1
    assert len(runs.train_images(mnist)) == runs.QUICK_TRAIN_IMAGES
    assert len(runs.test_images(mnist)) == runs.QUICK_TEST_IMAGES
    monkeypatch.setenv("VAE_QUICK", "0")
    assert runs.epochs_for(mnist) == runs.FULL_EPOCHS["bundled"]
    # Full vs subset epochs follow the number of training images: tests/test_full_size.py.
    assert len(runs.train_images(mnist)) == 5000 and len(runs.test_images(mnist)) == 700


def test_the_test_set_is_binarised_once_the_way_the_run_trains(monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "0")
    mnist = _Source("bundled")
    assert np.all(runs.test_images(mnist, "static") == 1.0)  # 0.8 > 0.5
    dynamic = runs.test_images(mnist, "dynamic")
    np.testing.assert_array_equal(dynamic, runs.test_images(mnist, "dynamic"))
    assert 0.75 < dynamic.mean() < 0.85


def _sha256_prefix(*arrays):
    """The data's fingerprint computed here, independently of vae_helpers.data.fingerprint."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode() + array.tobytes())
    return digest.hexdigest()[:8]


def test_run_names_hold_everything_that_defines_a_run(monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "0")
    source = _Source("keras")
    name = runs.run_name(source, 16, beta=0.5, binarization="static")
    # The test set of 0.8 everywhere, thresholded at 0.5: all ones.
    expected = _sha256_prefix(source.train_images, np.ones((700, 28, 28, 1), np.float32))
    # The class, every constructor setting (the seed too), binarisation, epochs (15 for 5,000
    # training images), data and mode.
    assert name == f"cvae-latent_dim16-seed42-beta0.5-static-15ep-mnist-{expected}-full.keras"
    monkeypatch.setenv("VAE_QUICK", "1")
    name = runs.run_name(_Source("/somewhere/my_digits.npz"), 2)
    assert re.fullmatch(r"cvae-latent_dim2-seed42-beta1-dynamic-1ep-npz-my_digits-[0-9a-f]{8}-quick\.keras", name)


def test_two_files_of_one_name_with_other_digits_get_two_checkpoints(monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "0")
    first, second = _Source("/course/mnist.npz"), _Source("/learner/mnist.npz")
    second.train_images = second.train_images.copy()
    second.train_images[0, 0, 0, 0] = 1.0  # one pixel
    assert runs.run_name(first, 2) != runs.run_name(second, 2)
    assert runs.run_name(first, 2) == runs.run_name(_Source("/elsewhere/mnist.npz"), 2)


def test_checkpoint_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("VAE_CHECKPOINT_DIR", raising=False)
    assert runs.checkpoint_dir() == "checkpoints"
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    assert runs.checkpoint_dir() == str(tmp_path)


def test_the_shown_checkpoint_dir_names_no_path_of_this_machine(monkeypatch, tmp_path):
    monkeypatch.delenv("VAE_CHECKPOINT_DIR", raising=False)
    assert runs.shown_checkpoint_dir() == "checkpoints/"
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    assert runs.shown_checkpoint_dir() == "$VAE_CHECKPOINT_DIR"


@pytest.mark.parametrize("value", ["", "  "])
def test_an_empty_checkpoint_dir_setting_means_checkpoints(value, monkeypatch):
    # It used to mean the working folder itself, while the page said checkpoints/.
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", value)
    assert runs.checkpoint_dir() == "checkpoints" and runs.shown_checkpoint_dir() == "checkpoints/"


def test_a_checkpoint_dir_under_home_is_expanded(monkeypatch, tmp_path):
    # It used to make a folder literally named ~ in the working folder.
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", "~/ckpt")
    assert runs.checkpoint_dir() == str(tmp_path / "ckpt")
    assert runs.shown_checkpoint_dir() == "$VAE_CHECKPOINT_DIR"


def test_keeping_checkpoints_on_drive_is_for_colab(monkeypatch, tmp_path, capsys):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(RuntimeError, match="for Google Colab.*set VAE_CHECKPOINT_DIR"):
        runs.keep_checkpoints_on_drive()
    with pytest.raises(ValueError, match="a folder inside MyDrive"):
        runs.keep_checkpoints_on_drive("/content/elsewhere")
    # Colab, as far as the function can tell: google.colab.drive, with Drive mounted at runs.DRIVE.
    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=lambda path: (mounted.append(path), (tmp_path / "MyDrive").mkdir()))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(runs, "DRIVE", str(tmp_path))
    monkeypatch.delenv("VAE_CHECKPOINT_DIR", raising=False)
    runs.keep_checkpoints_on_drive()
    assert mounted == [str(tmp_path)] and (tmp_path / "MyDrive" / "vae-book-checkpoints").is_dir()
    assert runs.checkpoint_dir() == str(tmp_path / "MyDrive" / "vae-book-checkpoints")
    assert capsys.readouterr().out == (
        "Checkpoints are kept on Google Drive, in MyDrive/vae-book-checkpoints (VAE_CHECKPOINT_DIR).\n")


def test_a_checkpoint_dir_that_is_a_file_is_refused_before_training(bundled, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_QUICK", "1")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(a_file))
    # v0.1.0: [Errno 17] File exists, after the first epoch's training.
    with pytest.raises(ValueError, match="VAE_CHECKPOINT_DIR=.*notes.txt' is a file, not a folder"):
        runs.book_model(bundled, 2, verbose=0)
    assert a_file.read_text() == "mine"


def test_a_book_model_is_trained_once_then_loaded_but_never_for_other_data(bundled, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_QUICK", "1")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    other_split = data.load_mnist("bundled", seed=1)
    first = runs.book_model(bundled, 2, verbose=0)
    assert first.epochs == 1 and (tmp_path / runs.run_name(bundled, 2)).exists()
    again = runs.book_model(bundled, 2, verbose=0)
    assert first.resumed_from == 0 and again.resumed_from == 1 and again.seconds == 0.0
    x = runs.test_images(bundled)[:8]
    np.testing.assert_allclose(again.model.encode(x)[0], first.model.encode(x)[0], atol=1e-6)
    # v0.1.0 loaded the first model here, though 79% of the new test set was its training data.
    second = runs.book_model(other_split, 2, verbose=0)
    assert second.resumed_from == 0
    assert runs.run_name(bundled, 2) != runs.run_name(other_split, 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([runs.run_name(bundled, 2), runs.run_name(other_split, 2)])
    # A checkpoint copied under another run's name is refused, not resumed or overwritten.
    shutil.copy(tmp_path / runs.run_name(bundled, 2), tmp_path / runs.run_name(other_split, 2, beta=2.0))
    copied = (tmp_path / runs.run_name(other_split, 2, beta=2.0)).read_bytes()
    with pytest.raises(training.CheckpointMismatchError, match="beta=1.0"):
        runs.book_model(other_split, 2, beta=2.0, verbose=0)
    shutil.copy(tmp_path / runs.run_name(bundled, 2), tmp_path / runs.run_name(other_split, 2))
    with pytest.raises(training.CheckpointMismatchError, match="trained on data with fingerprint .*VAE_CHECKPOINT_DIR"):
        runs.book_model(other_split, 2, verbose=0)
    assert (tmp_path / runs.run_name(other_split, 2, beta=2.0)).read_bytes() == copied


def test_book_model_refuses_an_unknown_binarisation(bundled):
    with pytest.raises(ValueError, match="'static' or 'dynamic'"):
        runs.book_model(bundled, 2, binarization="none")
