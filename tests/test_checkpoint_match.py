"""A checkpoint is resumed only by the run that wrote it: the same model class, every setting of
its config and the same data. Any other run is refused with `training.CheckpointMismatchError`,
and the checkpoint is left byte for byte as it was. Quick mode, 64 training digits: two steps."""

import dataclasses
import hashlib
import json
import zipfile

import numpy as np
import pytest

from vae_helpers import config, data, models, runs, training


@pytest.fixture(scope="module")
def small(bundled):
    return dataclasses.replace(bundled, train_images=bundled.train_images[:64],
                               test_images=bundled.test_images[:32])


@pytest.fixture(autouse=True)
def _quick(monkeypatch, tmp_path):
    monkeypatch.setenv("VAE_QUICK", "1")
    monkeypatch.setenv("VAE_FETCH_MODELS", "0")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))


@pytest.fixture
def fits(monkeypatch):
    """How often `training.fit` ran: 0 means no training step."""
    count, real = [0], training.fit

    def fit(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "fit", fit)
    return count


def _free_bits(floor):
    return models.FreeBitsCVAE(2, free_bits=floor, seed=config.SEED)


def _refused(tmp_path, train, match):
    """Runs `train()`, which must be refused, and checks that no file of `tmp_path` changed."""
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(training.CheckpointMismatchError, match=match) as error:
        train()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert "delete" not in str(error.value)
    return str(error.value)


def _planted(small, tmp_path, trained, wanted, binarization="dynamic"):
    """Trains `trained`, then puts its checkpoint under the name `wanted`'s run reads (a file
    renamed or copied by hand): (the planted path, the run of `wanted` to call)."""
    runs.train_model(small, trained, binarization=binarization, verbose=0)
    source = tmp_path / runs.checkpoint_name(small, trained, binarization)
    target = tmp_path / runs.checkpoint_name(small, wanted, binarization)
    assert source != target  # every setting is in the name: two runs never share one
    target.write_bytes(source.read_bytes())
    return target, lambda: runs.train_model(small, wanted, binarization=binarization, verbose=0)


def test_free_bits_of_another_floor_under_the_same_tag_is_refused(small, tmp_path, fits):
    _, run = _planted(small, tmp_path, _free_bits(0.25), _free_bits(2.0))
    # v0.1 returned the 0.25 model here.
    message = _refused(tmp_path, run, r"free_bits=0\.25.*free_bits=2\.0")
    assert "VAE_CHECKPOINT_DIR" in message
    assert fits[0] == 1


def test_a_warmup_model_never_resumes_a_plain_cvae(small, tmp_path):
    warmup = models.WarmupCVAE(2, warmup_steps=10, seed=config.SEED)
    _, run = _planted(small, tmp_path, models.CVAE(2, seed=config.SEED), warmup)
    # v0.1 handed back the plain CVAE, without its warm-up.
    _refused(tmp_path, run, r"holds a CVAE, but this run's model is a WarmupCVAE")


def test_another_likelihood_under_the_same_tag_is_refused(small, tmp_path):
    def likelihood(name):
        return models.LikelihoodCVAE(2, name, seed=config.SEED)

    _, run = _planted(small, tmp_path, likelihood("continuous_bernoulli"), likelihood("bernoulli"), "as_is")
    _refused(tmp_path, run, r"likelihood='continuous_bernoulli'.*likelihood='bernoulli'")


def test_another_seed_is_refused(small, tmp_path):
    # The seed sets the noise the saved model trained with: resuming would hand back another run.
    other = models.FreeBitsCVAE(2, free_bits=0.25, seed=config.SEED + 1)
    _, run = _planted(small, tmp_path, _free_bits(0.25), other)
    _refused(tmp_path, run, rf"seed={config.SEED}.*seed={config.SEED + 1}")


def test_two_data_files_of_one_name_get_a_checkpoint_each(small, tmp_path, fits):
    first = dataclasses.replace(small, source="/course/mnist.npz")
    images = small.train_images.copy()
    images[0, 0, 0, 0] = 1.0  # one pixel
    second = dataclasses.replace(small, source="/learner/mnist.npz", train_images=images)
    runs.train_model(first, _free_bits(0.25), verbose=0)
    kept = (tmp_path / runs.checkpoint_name(first, _free_bits(0.25))).read_bytes()
    # v0.1 resumed the first file's model for the second.
    run = runs.train_model(second, _free_bits(0.25), verbose=0)
    assert run.resumed_from == 0 and fits[0] == 2
    names = [runs.checkpoint_name(mnist, _free_bits(0.25)) for mnist in (first, second)]
    assert names[0] != names[1]
    for mnist, name in zip((first, second), names):
        assert name == (f"freebitscvae-latent_dim2-seed{config.SEED}-beta1-free_bits0.25-dynamic-1ep-npz-mnist-"
                        f"{_fingerprint(mnist)[:8]}-quick.keras")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
    assert (tmp_path / names[0]).read_bytes() == kept
    # The first file's checkpoint copied under the second's name: refused for its data.
    (tmp_path / names[1]).write_bytes(kept)
    _refused(tmp_path, lambda: runs.train_model(second, _free_bits(0.25), verbose=0),
             r"trained on data with fingerprint .*VAE_CHECKPOINT_DIR")


def _fingerprint(mnist):
    """The SHA-256 of a binary variant run's images, computed here as `data.fingerprint` is
    documented to compute it (dtype, shape, then bytes of each array)."""
    digest = hashlib.sha256()
    for array in (runs.train_images(mnist), runs.test_images(mnist)):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape};".encode() + array.tobytes())
    return digest.hexdigest()


def test_the_same_run_loads_its_finished_checkpoint_without_a_step(small, tmp_path, fits):
    first = runs.train_model(small, _free_bits(0.25), verbose=0)
    name = runs.checkpoint_name(small, _free_bits(0.25))
    before = (tmp_path / name).read_bytes()
    again = runs.train_model(small, _free_bits(0.25), verbose=0)
    assert fits[0] == 1 and again.resumed_from == 1 and again.seconds == 0.0
    assert type(again.model) is models.FreeBitsCVAE and again.model.free_bits == 0.25
    for saved, loaded in zip(first.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(saved, loaded)
    assert (tmp_path / name).read_bytes() == before
    book = runs.book_model(small, 2, verbose=0)
    assert runs.book_model(small, 2, verbose=0).resumed_from == 1 and fits[0] == 2 and book.epochs == 1


def test_the_run_record_names_the_model_class_and_its_settings(small, tmp_path):
    runs.train_model(small, _free_bits(0.25), verbose=0)
    state = training.checkpoint_state(tmp_path / runs.checkpoint_name(small, _free_bits(0.25)))
    assert state["model"] == "vae_helpers>FreeBitsCVAE"
    assert state["settings"] == {"latent_dim": 2, "seed": config.SEED, "beta": 1.0, "free_bits": 0.25}


def _without_model_record(path):
    """Rewrites checkpoint `path` as vae_helpers 0.1 wrote it: a run record without the model's
    class and settings (Keras' own config.json still names them)."""
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, content in entries:
            if info.filename == training.STATE_ENTRY:
                state = json.loads(content)
                content = json.dumps({k: v for k, v in state.items() if k not in ("model", "settings")})
            archive.writestr(info, content)


def test_a_checkpoint_of_an_older_version_is_checked_by_its_keras_config(small, tmp_path, fits):
    path, run = _planted(small, tmp_path, _free_bits(0.25), _free_bits(2.0))
    original = tmp_path / runs.checkpoint_name(small, _free_bits(0.25))
    _without_model_record(path)
    _without_model_record(original)
    assert "settings" not in training.checkpoint_state(path)
    _refused(tmp_path, run, r"free_bits=0\.25.*free_bits=2\.0")
    again = runs.train_model(small, _free_bits(0.25), verbose=0)
    assert again.resumed_from == 1 and fits[0] == 1 and again.model.free_bits == 0.25


def test_training_train_refuses_another_class_for_any_checkpoint(small, tmp_path):
    train_data = data.make_dataset(runs.train_images(small), batch_size=32, binarization="dynamic")
    test_data = data.make_dataset(runs.test_images(small), batch_size=32, shuffle=False)
    path = tmp_path / "mine.keras"
    training.train(models.WarmupCVAE(2, warmup_steps=10, seed=0), train_data, test_data, 1,
                   checkpoint=path, verbose=0)
    message = _refused(tmp_path, lambda: training.train(
        models.WarmupCVAE(2, warmup_steps=20, seed=0), train_data, test_data, 2, checkpoint=path, verbose=0),
        r"warmup_steps=10.*warmup_steps=20")
    assert str(path) in message
