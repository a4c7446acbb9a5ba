import math
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_helpers import data, models, training

WORKER = os.path.join(os.path.dirname(__file__), "training_worker.py")


@pytest.fixture(scope="module")
def small(bundled):
    train = data.make_dataset(bundled.train_images[:96], batch_size=32, binarization="dynamic")
    test = data.make_dataset(bundled.test_images[:64], batch_size=32, shuffle=False)
    return train, test


def _worker(tmp_path, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, WORKER, *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def test_a_killed_run_resumes_from_its_last_epoch_and_ends_where_an_uninterrupted_run_ends(tmp_path):
    reference = _worker(tmp_path, "reference.keras", 3, "reference.npz")
    assert reference.returncode == 0, reference.stderr[-2000:]

    # SIGKILL at step 4 of epoch 3: epochs 1 and 2 are checkpointed, epoch 3 is half done.
    killed = _worker(tmp_path, "run.keras", 3, "killed.npz", 3, 4)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed.npz").exists()
    assert training.checkpoint_state(tmp_path / "run.keras")["epochs_done"] == 2

    resumed = _worker(tmp_path, "run.keras", 3, "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected, got = np.load(tmp_path / "reference.npz"), np.load(tmp_path / "resumed.npz")
    assert int(got["resumed_from"]) == 2
    # Nothing lost: the optimizer's step count, the history of all three epochs and every weight
    # match the run that was never interrupted.
    assert int(got["iterations"]) == int(expected["iterations"]) == 3 * 8
    np.testing.assert_array_equal(got["train_elbo"], expected["train_elbo"])
    np.testing.assert_array_equal(got["test_elbo"], expected["test_elbo"])
    weights = [name for name in expected.files if name.startswith("weight_")]
    assert len(weights) > 0
    for name in weights:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    assert training.checkpoint_state(tmp_path / "run.keras")["epochs_done"] == 3


def test_a_save_that_dies_halfway_leaves_the_previous_checkpoint_whole(tmp_path, small, monkeypatch):
    path = tmp_path / "model.keras"
    run = training.train(models.CVAE(2, seed=0), *small, epochs=1, checkpoint=path, verbose=0)

    def dies_halfway(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as partial:
            partial.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        training._save(str(path), run.model, {"elbo": [1.0, 2.0]})
    monkeypatch.undo()
    assert training.checkpoint_state(path)["epochs_done"] == 1
    restored = keras.models.load_model(path)
    for before, after in zip(run.model.get_weights(), restored.get_weights()):
        np.testing.assert_array_equal(before, after)


def test_history_has_every_epoch_and_a_finished_checkpoint_is_not_retrained(tmp_path, small):
    seen = []
    path = tmp_path / "model.keras"
    run = training.train(
        models.CVAE(2, seed=0), *small, epochs=2, checkpoint=path, verbose=0,
        on_epoch_end=lambda epoch, model, logs: seen.append((epoch, logs["val_elbo"])),
    )
    assert [epoch for epoch, _ in seen] == [1, 2]
    assert run.epochs == 2 and run.resumed_from == 0 and run.seconds > 0
    for name in ("loss", "elbo", "reconstruction_loss", "kl_loss", "val_elbo", "val_kl_loss"):
        assert len(run.history[name]) == 2, name
    assert [value for _, value in seen] == pytest.approx(run.history["val_elbo"])
    # beta = 1: the loss is minus the ELBO, and the ELBO is minus the sum of its two terms.
    np.testing.assert_allclose(run.history["loss"], -np.array(run.history["elbo"]), rtol=1e-6)
    np.testing.assert_allclose(
        run.history["val_elbo"],
        -(np.array(run.history["val_reconstruction_loss"]) + run.history["val_kl_loss"]), rtol=1e-5,
    )
    again = training.train(models.CVAE(2, seed=0), *small, epochs=2, checkpoint=path, verbose=0)
    assert again.resumed_from == 2 and again.seconds == 0.0
    assert again.history == run.history


def test_a_non_finite_loss_stops_training_naming_the_epoch_and_step(bundled):
    images = data.binarize_static(bundled.train_images[:128])
    images[70, 5, 5, 0] = np.nan  # in the third batch of 32
    poisoned = tf.data.Dataset.from_tensor_slices(images).batch(32)
    test = data.make_dataset(bundled.test_images[:32], shuffle=False)
    with pytest.raises(training.NonFiniteLossError, match=r"epoch 1, step 3\b"):
        training.train(models.CVAE(2, seed=0), poisoned, test, epochs=2, verbose=0)


@pytest.mark.parametrize("epochs", [0, -1, 1.5, True, "3"])
def test_bad_epochs_are_refused(small, epochs):
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        training.train(models.CVAE(2), *small, epochs=epochs)


@pytest.mark.parametrize("learning_rate", [0, -1e-3, math.nan, math.inf, "1e-4", True])
def test_bad_learning_rates_are_refused(small, learning_rate):
    with pytest.raises(ValueError, match="learning_rate must be a positive number"):
        training.train(models.CVAE(2), *small, epochs=1, learning_rate=learning_rate)


def test_bad_steps_per_execution_is_refused(small):
    with pytest.raises(ValueError, match="steps_per_execution must be a positive integer"):
        training.train(models.CVAE(2), *small, epochs=1, steps_per_execution=0)


def test_a_numpy_array_instead_of_a_dataset_names_make_dataset(bundled, small):
    with pytest.raises(TypeError, match="make_dataset"):
        training.train(models.CVAE(2), bundled.train_images, small[1], epochs=1)


@pytest.mark.parametrize(
    "images, match",
    [
        (np.zeros((64, 784), np.float32), r"shape \(batch, 28, 28, 1\)"),
        (np.zeros((64, 28, 28), np.float32), r"shape \(batch, 28, 28, 1\)"),
        (np.zeros((64, 28, 28, 1), np.uint8), "float32"),
        (np.zeros((64, 28, 28, 1), np.float64), "float32"),
    ],
)
def test_datasets_of_the_wrong_shape_or_dtype_are_refused(small, images, match):
    bad = tf.data.Dataset.from_tensor_slices(images).batch(32)
    with pytest.raises(ValueError, match=match):
        training.train(models.CVAE(2), bad, small[1], epochs=1)
    with pytest.raises(ValueError, match=match):
        training.train(models.CVAE(2), small[0], bad, epochs=1)


def test_an_unbatched_dataset_is_refused(bundled, small):
    unbatched = tf.data.Dataset.from_tensor_slices(bundled.train_images[:64])
    with pytest.raises(ValueError, match="Batch it"):
        training.train(models.CVAE(2), unbatched, small[1], epochs=1)


def test_an_endless_dataset_is_refused(small):
    with pytest.raises(ValueError, match="finite dataset"):
        training.train(models.CVAE(2), small[0].repeat(), small[1], epochs=1)


def test_a_model_that_is_not_a_cvae_is_refused(small):
    with pytest.raises(TypeError, match="CVAE"):
        training.train(keras.Sequential([keras.layers.Dense(1)]), *small, epochs=1)


def test_a_checkpoint_path_must_end_in_keras(small, tmp_path):
    with pytest.raises(ValueError, match=r"ending in \.keras"):
        training.train(models.CVAE(2), *small, epochs=1, checkpoint=tmp_path / "model.h5")


def test_a_checkpoint_of_another_latent_size_is_refused(small, tmp_path):
    path = tmp_path / "model.keras"
    training.train(models.CVAE(2, seed=0), *small, epochs=1, checkpoint=path, verbose=0)
    with pytest.raises(training.CheckpointMismatchError, match="latent_dim=2.*latent_dim=3"):
        training.train(models.CVAE(3, seed=0), *small, epochs=2, checkpoint=path, verbose=0)
    with pytest.raises(training.CheckpointMismatchError, match="beta=1.0.*beta=4.0"):
        training.train(models.CVAE(2, seed=0, beta=4.0), *small, epochs=2, checkpoint=path, verbose=0)


def test_a_checkpoint_with_more_epochs_than_asked_is_refused(small, tmp_path):
    path = tmp_path / "model.keras"
    training.train(models.CVAE(2, seed=0), *small, epochs=2, checkpoint=path, verbose=0)
    with pytest.raises(training.CheckpointMismatchError, match="already holds 2 epochs"):
        training.train(models.CVAE(2, seed=0), *small, epochs=1, checkpoint=path, verbose=0)


def test_a_corrupt_checkpoint_names_the_file_and_the_fix(small, tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(os.urandom(2000))
    with pytest.raises(training.CheckpointMismatchError, match="delete it"):
        training.train(models.CVAE(2), *small, epochs=1, checkpoint=path)


def test_steps_per_execution_keeps_an_epoch_one_pass_over_the_data(bundled):
    train = data.make_dataset(bundled.train_images[:320], batch_size=32)  # 10 batches
    test = data.make_dataset(bundled.test_images[:32], shuffle=False)
    for steps, expected_per_execution in ((4, 2), (5, 5), (32, 10)):
        run = training.train(models.CVAE(2, seed=0), train, test, epochs=2, steps_per_execution=steps, verbose=0)
        assert int(run.model.optimizer.iterations.numpy()) == 20
        assert run.model.steps_per_execution == expected_per_execution
