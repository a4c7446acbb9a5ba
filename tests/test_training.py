import math
import os
import shutil
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from vae_helpers import checkpoints, config, data, models, training

WORKER = os.path.join(os.path.dirname(__file__), "training_worker.py")


@pytest.fixture(scope="module")
def small(bundled):
    train = data.make_dataset(bundled.train_images[:96], batch_size=32, binarization="dynamic")
    test = data.make_dataset(bundled.test_images[:64], batch_size=32, shuffle=False)
    return train, test


def _worker(tmp_path, *args, precision=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if precision:
        env["VAE_PRECISION"] = precision
    return subprocess.run(
        [sys.executable, WORKER, *map(str, args)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


# Both precisions training can pick (`precision.training_policy`): bfloat16 is emulated on a CPU
# without bfloat16 units, slowly but deterministically, so both run on every machine.
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_a_killed_run_resumes_from_its_last_epoch_and_ends_where_an_uninterrupted_run_ends(tmp_path, precision):
    reference = _worker(tmp_path, "reference.keras", 3, "reference.npz", precision=precision)
    assert reference.returncode == 0, reference.stderr[-2000:]

    # SIGKILL at step 4 of epoch 3: epochs 1 and 2 are checkpointed, epoch 3 is half done.
    killed = _worker(tmp_path, "run.keras", 3, "killed.npz", 3, 4, precision=precision)
    assert killed.returncode == -signal.SIGKILL
    assert not (tmp_path / "killed.npz").exists()
    assert training.checkpoint_state(tmp_path / "run.keras")["epochs_done"] == 2

    resumed = _worker(tmp_path, "run.keras", 3, "resumed.npz", precision=precision)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    expected, got = np.load(tmp_path / "reference.npz"), np.load(tmp_path / "resumed.npz")
    assert str(got["precision"]) == str(expected["precision"]) == precision
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
        checkpoints.save(str(path), run.model, {"elbo": [1.0, 2.0]})
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
    with pytest.raises(training.CheckpointMismatchError, match="latent_dim=2.*latent_dim=3") as error:
        training.train(models.CVAE(3, seed=0), *small, epochs=2, checkpoint=path, verbose=0)
    assert "delete" not in str(error.value) and "VAE_CHECKPOINT_DIR" in str(error.value)
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
    before = path.read_bytes()
    with pytest.raises(training.CheckpointMismatchError, match="another checkpoint path") as error:
        training.train(models.CVAE(2), *small, epochs=1, checkpoint=path)
    # The file may be someone's only copy of something: never advise deleting it.
    assert str(path) in str(error.value) and "delete" not in str(error.value)
    assert path.read_bytes() == before


def test_steps_per_execution_keeps_an_epoch_one_pass_over_the_data(bundled):
    def run(steps):
        config.set_seeds()  # the same initial weights and data order for every run
        train = data.make_dataset(bundled.train_images[:320], batch_size=32, seed=0)  # 10 batches
        test = data.make_dataset(bundled.test_images[:32], shuffle=False)
        return training.train(models.CVAE(2, seed=0), train, test, epochs=2, steps_per_execution=steps, verbose=0)

    one_at_a_time = run(1).model.get_weights()
    for steps, expected_per_execution in ((4, 2), (5, 5), (32, 10)):
        model = run(steps).model
        assert int(model.optimizer.iterations.numpy()) == 20
        assert model.steps_per_execution == expected_per_execution
        # The same steps on the same batches (chapter 5 says so): only Python's part changes.
        for got, expected in zip(model.get_weights(), one_at_a_time):
            np.testing.assert_array_equal(got, expected)


# Issue 13: nothing silently wrong, nothing lost.

class _CountBatches(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.count = 0

    def on_train_batch_end(self, batch, logs=None):
        self.count += 1


def test_pixels_outside_the_unit_range_are_refused_before_training(small):
    grey = np.linspace(0, 255, 64 * 784, dtype=np.float32).reshape(64, 28, 28, 1)
    scale_255 = tf.data.Dataset.from_tensor_slices(grey).batch(32)
    counter = _CountBatches()
    # v0.1.0 trained on these to an "ELBO" of about -4e19 per image without a word.
    with pytest.raises(ValueError, match=r"train_data's first batch: expected pixel values in \[0, 1\]; "
                                         r"got values from 0 to 127\.497\. Divide by 255"):
        training.train(models.CVAE(2), scale_255, small[1], epochs=1, callbacks=[counter], verbose=0)
    with pytest.raises(ValueError, match=r"test_data's first batch: expected pixel values in \[0, 1\]"):
        training.train(models.CVAE(2), small[0], scale_255, epochs=1, callbacks=[counter], verbose=0)
    nan_first = grey / 255.0
    nan_first[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="train_data's first batch contain NaN or infinite values"):
        training.train(models.CVAE(2), tf.data.Dataset.from_tensor_slices(nan_first).batch(32), small[1],
                       epochs=1, callbacks=[counter], verbose=0)
    assert counter.count == 0


def test_a_nan_test_elbo_stops_training_naming_the_test_set_before_the_checkpoint(bundled, small, tmp_path):
    test = data.binarize_static(bundled.test_images[:64])
    test[40, 5, 5, 0] = np.nan  # second batch: the cheap first-batch check cannot see it
    poisoned = tf.data.Dataset.from_tensor_slices(test).batch(32)
    path = tmp_path / "model.keras"
    with pytest.raises(training.NonFiniteLossError, match=r"the test set \(test_data\).*not written to the checkpoint"):
        training.train(models.CVAE(2, seed=0), small[0], poisoned, epochs=2, checkpoint=path, verbose=0)
    assert not path.exists()


def test_a_symlinked_checkpoint_is_written_through_and_stays_a_link(small, tmp_path):
    drive = tmp_path / "drive"  # e.g. Google Drive, mounted in Colab
    drive.mkdir()
    target = drive / "model.keras"
    link = tmp_path / "model.keras"
    link.symlink_to(target)  # dangling until the first save
    training.train(models.CVAE(2, seed=0), *small, epochs=1, checkpoint=link, verbose=0)
    assert link.is_symlink() and training.checkpoint_state(target)["epochs_done"] == 1
    run = training.train(models.CVAE(2, seed=0), *small, epochs=2, checkpoint=link, verbose=0)
    assert run.resumed_from == 1
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert training.checkpoint_state(target)["epochs_done"] == 2
    assert sorted(p.name for p in drive.iterdir()) == ["model.keras"]  # no temporary file left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["drive", "model.keras"]


def test_a_checkpoint_folder_that_is_a_file_is_refused_before_training(small, tmp_path):
    not_a_folder = tmp_path / "checkpoints"
    not_a_folder.write_text("my notes")
    counter = _CountBatches()
    with pytest.raises(ValueError, match=r"Cannot write the checkpoint .*checkpoints is a file, not a folder.*"
                                         r"VAE_CHECKPOINT_DIR.*Nothing was trained yet"):
        training.train(models.CVAE(2), *small, epochs=1, checkpoint=not_a_folder / "model.keras",
                       callbacks=[counter], verbose=0)
    assert counter.count == 0 and not_a_folder.read_text() == "my notes"


_READ_ONLY_SCRIPT = """
import sys
from vae_helpers import data, models, training
mnist = data.load_mnist("bundled")
train = data.make_dataset(mnist.train_images[:64], 32)
test = data.make_dataset(mnist.test_images[:32], 32, shuffle=False)
try:
    training.train(models.CVAE(2), train, test, epochs=1, checkpoint=sys.argv[1] + "/model.keras", verbose=0)
except ValueError as error:
    print("REFUSED", error)
"""


def test_a_read_only_checkpoint_folder_is_refused_before_training(tmp_path):
    folder = tmp_path / "read-only"
    folder.mkdir()
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        command = [sys.executable, "-c", _READ_ONLY_SCRIPT, str(folder)]
    else:  # root writes through permissions: make the folder a read-only mount instead
        if shutil.which("unshare") is None or subprocess.run(["unshare", "-m", "true"]).returncode != 0:
            pytest.skip("running as root without unshare -m: cannot make a read-only folder")
        command = ["unshare", "-m", "sh", "-c",
                   'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && exec "$0" -c "$2" "$1"',
                   sys.executable, str(folder), _READ_ONLY_SCRIPT]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 0, result.stderr[-2000:]
    # v0.1.0: [Errno 30] or [Errno 13] after the first epoch's training was spent.
    assert "REFUSED Cannot write the checkpoint" in result.stdout, result.stdout + result.stderr[-2000:]
    assert "cannot be written" in result.stdout and "Nothing was trained yet" in result.stdout
    assert list(folder.iterdir()) == []


def test_a_failed_save_removes_its_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    model = models.CVAE(2, seed=0)
    checkpoints.save(str(path), model, {"elbo": [1.0]})
    before = path.read_bytes()

    def disk_full(self, filepath, *args, **kwargs):
        with open(filepath, "wb") as partial:
            partial.write(b"PK\x03\x04" + bytes(100_000))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(keras.Model, "save", disk_full)
    for _ in range(3):  # each retry used to leave one more hidden file
        with pytest.raises(OSError, match="No space left"):
            checkpoints.save(str(path), model, {"elbo": [1.0, 2.0]})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.keras"]
    assert path.read_bytes() == before


def test_a_model_saved_by_hand_is_not_called_corrupt_or_deleted(small, tmp_path):
    path = tmp_path / "my_model.keras"
    models.CVAE(2, seed=0).save(path)
    before = path.read_bytes()
    with pytest.raises(training.CheckpointMismatchError, match="is a Keras model file but not a checkpoint") as error:
        training.train(models.CVAE(2, seed=0), *small, epochs=1, checkpoint=path, verbose=0)
    assert "another checkpoint path" in str(error.value) and "delete" not in str(error.value)
    assert path.read_bytes() == before


def test_a_checkpoint_of_another_architecture_names_the_fix(small, tmp_path, monkeypatch):
    path = tmp_path / "model.keras"
    checkpoints.save(str(path), models.CVAE(2, seed=0), {"elbo": [1.0]})  # a checkpoint of one epoch
    before = path.read_bytes()

    def another_decoder(latent_dim):  # as if a later version of the book changed the decoder
        return keras.Sequential([
            keras.Input((latent_dim,)), keras.layers.Dense(7 * 7 * 8, activation="relu"),
            keras.layers.Reshape((7, 7, 8)), keras.layers.Conv2DTranspose(1, 4, strides=4, padding="same"),
        ], name="decoder")

    monkeypatch.setattr(models.conv, "make_decoder", another_decoder)
    with pytest.raises(training.CheckpointMismatchError, match="cannot load .*another architecture") as error:
        training.train(models.CVAE(2, seed=0), *small, epochs=2, checkpoint=path, verbose=0)
    assert "another checkpoint path" in str(error.value) and "delete" not in str(error.value)
    assert path.read_bytes() == before


def test_numpy_learning_rates_are_accepted(small):
    learning_rate = np.float32(2e-3)  # v0.1.0: "must be a positive number ... got 0.002"
    run = training.train(models.CVAE(2, seed=0), *small, epochs=1, learning_rate=learning_rate, verbose=0)
    assert float(run.model.optimizer.learning_rate.numpy()) == pytest.approx(2e-3)


def test_one_default_learning_rate_the_books():
    from vae_helpers import runs

    assert training.DEFAULT_LEARNING_RATE == runs.LEARNING_RATE == 1e-3


def test_empty_datasets_are_named(small):
    empty = small[0].take(0)
    with pytest.raises(ValueError, match=r"train_data is empty \(0 batches\)"):
        training.train(models.CVAE(2), empty, small[1], epochs=1)
    with pytest.raises(ValueError, match=r"test_data is empty \(0 batches\)"):
        training.train(models.CVAE(2), small[0], small[1].take(0), epochs=1)


def test_a_checkpoint_of_other_data_is_refused_and_kept(small, tmp_path):
    path = tmp_path / "model.keras"
    training.train(models.CVAE(2, seed=0), *small, epochs=1, checkpoint=path, data_fingerprint="a" * 64, verbose=0)
    assert training.checkpoint_state(path)["data_fingerprint"] == "a" * 64
    before = path.read_bytes()
    with pytest.raises(training.CheckpointMismatchError, match="fingerprint aaaaaaaaaaaa.*fingerprint bbbbbbbbbbbb"):
        training.train(models.CVAE(2, seed=0), *small, epochs=2, checkpoint=path, data_fingerprint="b" * 64, verbose=0)
    assert path.read_bytes() == before
    # A checkpoint of v0.1.0 has no fingerprint: it cannot vouch for its data either.
    old = tmp_path / "old.keras"
    checkpoints.save(str(old), models.CVAE(2, seed=0), {"elbo": [1.0]})
    with pytest.raises(training.CheckpointMismatchError, match="data of unknown fingerprint"):
        training.train(models.CVAE(2, seed=0), *small, epochs=2, checkpoint=old, data_fingerprint="a" * 64, verbose=0)


def test_the_retracing_notice_is_dropped_and_other_tensorflow_warnings_are_kept():
    import logging

    seen = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logger = tf.get_logger()
    logger.addHandler(handler)
    try:
        logger.warning("5 out of the last 5 calls to <function f> triggered tf.function retracing.")
        logger.warning("a real warning")
    finally:
        logger.removeHandler(handler)
    assert seen == ["a real warning"]


# Temporary files: never written through a planted link, never left behind by a killed save.

def test_links_planted_at_the_temporary_file_names_are_never_written_through(small, tmp_path, monkeypatch):
    victims, links = {}, []
    # The names v0.1's probe and save used: predictable from the process id.
    old_names = [f".model.keras.{os.getpid()}.probe", f".model.keras.{os.getpid()}.partial.keras"]
    for number, name in enumerate(old_names):
        victim = tmp_path / f"precious-{number}.txt"
        victim.write_text(f"someone's only copy {number}")
        victims[victim] = victim.read_bytes()
        (tmp_path / name).symlink_to(victim)
        links.append(tmp_path / name)
    path = tmp_path / "model.keras"
    training.train(models.CVAE(2, seed=0), *small, epochs=1, checkpoint=path, verbose=0)
    for victim, before in victims.items():
        assert victim.read_bytes() == before
    assert all(link.is_symlink() for link in links)
    # A link at a name mkstemp draws is skipped too (O_EXCL): it draws the next name.
    import tempfile

    drawn = iter(["plantedx", "freshnam", "freshnm2", "freshnm3"])
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: drawn)
    planted = tmp_path / f".model.keras.{checkpoints.host()}.{os.getpid()}.plantedx.partial.keras"
    planted.symlink_to(next(iter(victims)))
    links.append(planted)
    checkpoints.save(str(path), models.CVAE(2, seed=0), {"elbo": [1.0, 2.0]})
    for victim, before in victims.items():
        assert victim.read_bytes() == before
    assert all(link.is_symlink() for link in links)
    assert not path.is_symlink() and training.checkpoint_state(path)["epochs_done"] == 2


_KILLED_IN_SAVE = """
import os, signal, sys
import keras
from vae_helpers import checkpoints, models

def dies_halfway(self, filepath, *args, **kwargs):
    with open(filepath, "wb") as partial:
        partial.write(b"PK\\x03\\x04 half a zip")
    os.kill(os.getpid(), signal.SIGKILL)  # as a recycled runtime: no cleanup runs

keras.Model.save = dies_halfway
checkpoints.save(sys.argv[1], models.CVAE(2, seed=0), {"elbo": [1.0]})
"""


def test_the_next_save_removes_what_a_killed_save_left_and_nothing_else(tmp_path):
    path = tmp_path / "model.keras"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    killed = subprocess.run([sys.executable, "-c", _KILLED_IN_SAVE, str(path)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    (stale,) = [p.name for p in tmp_path.iterdir()]
    parts = stale.split(".")  # "", "model", "keras", host, pid, random, "partial", "keras"
    assert parts[1:3] == ["model", "keras"] and parts[-2:] == ["partial", "keras"]

    def renamed(changes):
        return ".".join(changes.get(i, part) for i, part in enumerate(parts))

    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        victim = tmp_path / "notes.txt"
        victim.write_text("my notes")
        kept = {
            renamed({4: str(alive.pid)}): b"a live writer's file",
            renamed({1: "other"}): b"another checkpoint's",
            stale + ".bak": b"not our name",
            renamed({4: ""}): b"no process id",
        }
        for name, content in kept.items():
            (tmp_path / name).write_bytes(content)
        link = tmp_path / renamed({5: "linkxxxx"})
        link.symlink_to(victim)
        folder = tmp_path / renamed({5: "folderxx"})
        folder.mkdir()
        checkpoints.save(str(path), models.CVAE(2, seed=0), {"elbo": [1.0]})
    finally:
        alive.kill()
        alive.wait()
    assert not (tmp_path / stale).exists()
    for name, content in kept.items():
        assert (tmp_path / name).read_bytes() == content, name
    assert link.is_symlink() and victim.read_text() == "my notes" and folder.is_dir()
    assert training.checkpoint_state(path)["epochs_done"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*kept, link.name, folder.name, "notes.txt", "model.keras"])
