import numpy as np
import pytest
import tensorflow as tf

from vae_helpers import data, losses, models, precision, training

BF16 = {"fpu", "avx2", "avx512f", "avx512_bf16"}


def test_the_cpu_decides_unless_vae_precision_does(monkeypatch):
    monkeypatch.delenv("VAE_PRECISION", raising=False)
    assert precision.training_policy(BF16, has_gpu=False) == "mixed_bfloat16"
    assert precision.training_policy({"fpu", "amx_bf16"}, has_gpu=False) == "mixed_bfloat16"
    # Emulated bfloat16 is slow; float16 on a GPU needs loss scaling the book does not do.
    assert precision.training_policy({"fpu", "avx2", "avx512f"}, has_gpu=False) == "float32"
    assert precision.training_policy(BF16, has_gpu=True) == "float32"
    assert precision.training_policy(set(), has_gpu=False) == "float32"
    monkeypatch.setenv("VAE_PRECISION", "float32")
    assert precision.training_policy(BF16, has_gpu=False) == "float32"
    monkeypatch.setenv("VAE_PRECISION", "mixed_bfloat16")
    assert precision.training_policy(set(), has_gpu=True) == "mixed_bfloat16"
    monkeypatch.setenv("VAE_PRECISION", "bf16")
    with pytest.raises(ValueError, match="set VAE_PRECISION=float32 or VAE_PRECISION=mixed_bfloat16"):
        precision.training_policy(BF16, has_gpu=False)


def test_cpu_flags_are_read_from_a_cpuinfo_file(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert precision.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert precision.cpu_flags(tmp_path / "missing") is None


def _layers(model):
    return [*model.encoder.layers, *model.decoder.layers]


def test_inside_training_the_halves_compute_in_bfloat16_and_their_outputs_in_float32(bundled):
    model = models.CVAE(2, seed=0)
    x = data.binarize_static(bundled.test_images[:8])
    z = np.random.default_rng(0).normal(size=(8, 2)).astype("float32")
    float32_logits = model.decode(z).numpy()
    with precision.training_in(model, "mixed_bfloat16") as callbacks:
        assert len(callbacks) == 1
        inner = [layer.compute_dtype for layer in _layers(model)]
        assert inner == ["bfloat16"] * 2 + ["bfloat16", "float32"] + ["bfloat16"] * 4 + ["float32"]
        mean, logvar = model.encode(x)
        logits = model.decode(z)
        terms = losses.elbo_terms(model, x)
        assert mean.dtype == logvar.dtype == logits.dtype == tf.float32
        assert {t.dtype for t in terms.values()} == {tf.float32}
        # bfloat16 keeps 8 bits of mantissa: the logits move, a little.
        change = np.abs(logits.numpy() - float32_logits)
        assert 0 < change.max() < 0.05 * (1 + np.abs(float32_logits).max())
    assert {layer.compute_dtype for layer in _layers(model)} == {"float32"}
    np.testing.assert_array_equal(model.decode(z).numpy(), float32_logits)


def test_an_error_inside_still_restores_float32():
    model = models.CVAE(2, seed=0)
    with pytest.raises(KeyboardInterrupt):
        with precision.training_in(model, "mixed_bfloat16"):
            raise KeyboardInterrupt
    assert {layer.compute_dtype for layer in _layers(model)} == {"float32"}
    with pytest.raises(ValueError, match="policy must be one of"):
        with precision.training_in(model, "float16"):
            pass


def test_a_bfloat16_run_trains_in_bfloat16_scores_and_saves_in_float32(tmp_path, bundled, monkeypatch):
    monkeypatch.setenv("VAE_PRECISION", "mixed_bfloat16")
    train = data.make_dataset(bundled.train_images[:96], batch_size=32, binarization="dynamic")
    test = data.binarize_static(bundled.test_images[:64])
    seen = {"batch": set(), "test_batch": set(), "epoch_end": set()}

    class Watch(tf.keras.callbacks.Callback):
        # Keras traces a step at its first batch, with the policy the layers have then.
        def on_train_batch_begin(self, batch, logs=None):
            seen["batch"].add(self.model.decoder.layers[0].compute_dtype)

        def on_test_batch_begin(self, batch, logs=None):
            seen["test_batch"].add(self.model.decoder.layers[0].compute_dtype)

    def at_epoch_end(epoch, model, logs):
        seen["epoch_end"].add(model.decoder.layers[0].compute_dtype)

    path = tmp_path / "model.keras"
    run = training.train(
        models.CVAE(2, seed=0), train, data.make_dataset(test, batch_size=32, shuffle=False), epochs=2,
        checkpoint=path, callbacks=[Watch()], on_epoch_end=at_epoch_end, verbose=0)
    assert run.precision == "mixed_bfloat16"
    assert seen == {"batch": {"bfloat16"}, "test_batch": {"float32"}, "epoch_end": {"float32"}}
    assert {layer.compute_dtype for layer in _layers(run.model)} == {"float32"}
    # The checkpoint holds float32 weights and no policy: it loads, and resumes, as float32.
    again = training.train(models.CVAE(2, seed=0), train, data.make_dataset(test, batch_size=32, shuffle=False),
                           epochs=2, checkpoint=path, verbose=0)
    assert {layer.compute_dtype for layer in _layers(again.model)} == {"float32"}
    for before, after in zip(run.model.get_weights(), again.model.get_weights()):
        assert before.dtype == np.float32
        np.testing.assert_array_equal(before, after)


def _one_epoch(bundled, monkeypatch, policy, validation_noise=None):
    """One epoch of a small run in `policy`; returns the run and the model's noise state as each
    validation pass began (so a test can score the same draws again)."""
    monkeypatch.setenv("VAE_PRECISION", policy)
    train = data.make_dataset(bundled.train_images[:96], batch_size=32, binarization="dynamic")
    test = data.make_dataset(data.binarize_static(bundled.test_images[:64]), batch_size=32, shuffle=False)
    states = []

    class NoiseAtTest(tf.keras.callbacks.Callback):
        def on_test_begin(self, logs=None):
            states.append(self.model.noise.state.numpy().copy())

    run = training.train(models.CVAE(2, seed=0), train, test, epochs=1, callbacks=[NoiseAtTest()], verbose=0)
    return run, test, states[-1]


def _rescored_in_float32(run, test, noise_state):
    """The test ELBO of the trained weights, traced afresh in float32, with the noise the
    validation pass drew."""
    run.model.noise.state.assign(noise_state)
    run.model.compile(optimizer=tf.keras.optimizers.Adam())  # drops the traced steps
    return run.model.evaluate(test, return_dict=True, verbose=0)["elbo"]


def test_bfloat16_changes_the_training_maths_but_not_the_test_elbo_it_reports(bundled, monkeypatch):
    float32_run, _, _ = _one_epoch(bundled, monkeypatch, "float32")
    run, test, noise = _one_epoch(bundled, monkeypatch, "mixed_bfloat16")
    # The same seed and data: only the precision of the step differs, and it shows.
    assert run.history["elbo"][0] != float32_run.history["elbo"][0]
    assert run.history["val_elbo"][0] != float32_run.history["val_elbo"][0]
    # The reported test ELBO is the float32 network's: scored again in float32, it is the same.
    assert _rescored_in_float32(run, test, noise) == pytest.approx(run.history["val_elbo"][0], rel=1e-6)


def test_the_test_elbo_check_fails_when_validation_runs_in_bfloat16(bundled, monkeypatch):
    monkeypatch.setattr(precision._Float32BetweenEpochs, "on_test_begin", lambda self, logs=None: None)
    run, test, noise = _one_epoch(bundled, monkeypatch, "mixed_bfloat16")
    assert _rescored_in_float32(run, test, noise) != pytest.approx(run.history["val_elbo"][0], rel=1e-6)
