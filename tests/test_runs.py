import numpy as np
import pytest

from vae_helpers import runs


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


def test_run_names_hold_everything_that_defines_a_run(monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "0")
    name = runs.run_name(_Source("keras"), 16, beta=0.5, binarization="static")
    assert name == "cvae-latent16-beta0.5-static-mnist-full.keras"
    monkeypatch.setenv("VAE_QUICK", "1")
    assert runs.run_name(_Source("/somewhere/my_digits.npz"), 2) == "cvae-latent2-beta1-dynamic-npz-my_digits-quick.keras"


def test_checkpoint_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("VAE_CHECKPOINT_DIR", raising=False)
    assert runs.checkpoint_dir() == "checkpoints"
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    assert runs.checkpoint_dir() == str(tmp_path)


def test_a_book_model_is_trained_once_then_loaded(bundled, monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_QUICK", "1")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    first = runs.book_model(bundled, 2, verbose=0)
    assert first.resumed_from == 0 and first.epochs == 1
    assert (tmp_path / runs.run_name(bundled, 2)).exists()
    again = runs.book_model(bundled, 2, verbose=0)
    assert again.resumed_from == 1 and again.seconds == 0.0
    x = runs.test_images(bundled)[:8]
    np.testing.assert_allclose(again.model.encode(x)[0], first.model.encode(x)[0], atol=1e-6)


def test_book_model_refuses_an_unknown_binarisation(bundled):
    with pytest.raises(ValueError, match="'static' or 'dynamic'"):
        runs.book_model(bundled, 2, binarization="none")
