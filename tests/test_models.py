import warnings

import keras
import numpy as np
import pytest
from scipy import special, stats

from vae_helpers import data, models


@pytest.fixture(scope="module")
def model():
    return models.CVAE(latent_dim=3, seed=0)


@pytest.fixture
def images(bundled):
    return data.binarize_static(bundled.test_images[:8])


@pytest.mark.parametrize("latent_dim", [0, -2, 2.0, "2", True, None])
def test_latent_dim_must_be_a_positive_integer(latent_dim):
    with pytest.raises(ValueError, match="latent_dim must be a positive integer"):
        models.CVAE(latent_dim)


def test_encoder_ends_in_one_dense_layer_split_into_mean_and_logvar(model, images):
    last = model.encoder.layers[-1]
    assert isinstance(last, keras.layers.Dense) and last.units == 2 * model.latent_dim
    mean, logvar = model.encode(images)
    assert mean.shape == logvar.shape == (8, 3)
    both = model.encoder(images).numpy()
    np.testing.assert_array_equal(np.concatenate([mean, logvar], axis=1), both)


def test_decoder_ends_in_a_conv2d_transpose_that_outputs_logits(model):
    last = model.decoder.layers[-1]
    assert isinstance(last, keras.layers.Conv2DTranspose)
    assert last.activation is keras.activations.linear
    z = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    logits = model.decode(z).numpy()
    assert logits.shape == (5, 28, 28, 1)
    np.testing.assert_allclose(model.decode(z, apply_sigmoid=True).numpy(), special.expit(logits), rtol=1e-5, atol=1e-7)


def test_reparameterize_draws_from_the_encoder_gaussian(model):
    mean = np.full((20_000, 3), 3.0, np.float32)
    logvar = np.full((20_000, 3), np.log(4.0), np.float32)
    z = model.reparameterize(mean, logvar).numpy().ravel()
    assert stats.kstest(z, stats.norm(loc=3.0, scale=2.0).cdf).pvalue > 1e-3


def test_sample_decodes_prior_draws_to_probabilities(model):
    drawn = model.sample().numpy()
    assert drawn.shape == (100, 28, 28, 1)
    assert 0.0 < drawn.min() and drawn.max() < 1.0
    eps = np.zeros((2, 3), np.float32)
    np.testing.assert_allclose(model.sample(eps).numpy(), special.expit(model.decode(eps).numpy()), rtol=1e-5)


@pytest.mark.parametrize(
    "shape, message",
    [((2, 784), "Reshape"), ((2, 28, 28), "channel axis"), ((2, 1, 28, 28), r"\(2, 1, 28, 28\)"), ((2, 32, 32, 1), "28, 28, 1")],
)
def test_wrong_image_shapes_get_a_clear_error(model, shape, message):
    with pytest.raises(ValueError, match=message):
        model.encode(np.zeros(shape, np.float32))


@pytest.mark.parametrize("pixels, message", [
    (np.full((2, 28, 28, 1), 200, np.uint8), r"got values from 0 to 200\. Divide by 255"),
    (np.full((2, 28, 28, 1), 255.0, np.float32), r"got values from 0 to 255\. Divide by 255"),
    (np.full((2, 28, 28, 1), np.nan, np.float32), "NaN"),
])
def test_encode_refuses_pixels_outside_the_unit_interval_as_training_does(model, pixels, message):
    # v0.1 encoded 0-255 pixels to a code without a word; training refused them (the same check).
    with pytest.raises(ValueError, match="^The images given to encode.*" + message):
        model.encode(pixels)
    with pytest.raises(ValueError, match=message):
        data.check_pixel_range(pixels)
    mean, _ = model.encode(np.ones((2, 28, 28, 1), np.uint8))  # 0/1 as uint8 is in range
    assert np.all(np.isfinite(mean))


def test_wrong_latent_shape_is_rejected_by_decode(model):
    with pytest.raises(ValueError, match=r"z of shape \(batch, 3\)"):
        model.decode(np.zeros((2, 5), np.float32))


def test_building_and_saving_emit_no_warnings(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Keras' own saving code trips a NumPy 2 deprecation inside TensorFlow: not ours to fix.
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="keras")
        fresh = models.CVAE(2)
        fresh.save(tmp_path / "fresh.keras")


def test_fit_tracks_the_elbo_and_its_terms(bundled):
    model = models.CVAE(2, seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    train = data.make_dataset(bundled.train_images[:1024], batch_size=32)
    history = model.fit(train, epochs=2, verbose=0, shuffle=False).history
    assert set(history) == {"loss", "elbo", "reconstruction_loss", "kl_loss"}
    np.testing.assert_allclose(history["loss"], -np.array(history["elbo"]), rtol=1e-6)
    np.testing.assert_allclose(history["elbo"], -(np.array(history["reconstruction_loss"]) + history["kl_loss"]), rtol=1e-5)
    assert history["loss"][1] < history["loss"][0]
    result = model.evaluate(data.make_dataset(bundled.test_images[:256], 32, shuffle=False), verbose=0, return_dict=True)
    assert result["kl_loss"] > 0 and result["reconstruction_loss"] > 0


def test_one_quick_epoch_saves_and_reloads_identically(bundled, tmp_path):
    model = models.CVAE(4, seed=2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    model.fit(data.make_dataset(bundled.train_images[:256], 32), epochs=1, verbose=0, shuffle=False)
    path = tmp_path / "cvae.keras"
    model.save(path)
    restored = keras.models.load_model(path, safe_mode=True)
    assert isinstance(restored, models.CVAE) and restored.latent_dim == 4
    x = data.binarize_static(bundled.test_images[:16])
    for before, after in zip(model.encode(x), restored.encode(x)):
        np.testing.assert_array_equal(before.numpy(), after.numpy())
    z = np.ones((3, 4), np.float32)
    np.testing.assert_array_equal(model.decode(z).numpy(), restored.decode(z).numpy())
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) == 8


@pytest.mark.parametrize("beta", [-1.0, float("nan"), float("inf"), "1", True, None])
def test_bad_beta_is_refused(beta):
    with pytest.raises(ValueError, match="beta must be"):
        models.CVAE(2, beta=beta)


def test_the_loss_weights_the_kl_by_beta_and_the_elbo_metric_does_not(bundled):
    x = data.binarize_static(bundled.test_images[:64])
    model = models.CVAE(2, seed=0, beta=4.0)
    model.compile(optimizer="adam")
    logs = model.evaluate(x, batch_size=64, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(logs["reconstruction_loss"] + 4.0 * logs["kl_loss"], rel=1e-5)
    assert logs["elbo"] == pytest.approx(-(logs["reconstruction_loss"] + logs["kl_loss"]), rel=1e-5)
    assert keras.models.clone_model(model).beta == 4.0


def test_a_mixed_precision_model_takes_float32_images_and_codes(images):
    # Under mixed precision the layers compute in bfloat16 while the data, numpy and the prior's
    # draws are float32: the checks cast (a dtype-converting convert_to_tensor refuses them).
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = models.CVAE(latent_dim=2, seed=0)
        mean, logvar = model.encode(images)
        assert mean.dtype == "bfloat16" and mean.shape == (len(images), 2)
        for z in (np.zeros((3, 2), np.float32), keras.random.normal((3, 2), seed=0)):
            logits = model.decode(z)
            assert logits.shape == (3, 28, 28, 1) and logits.dtype == "bfloat16"
        with pytest.raises(ValueError, match=r"decode expects z of shape \(batch, 2\)"):
            model.decode(np.zeros((3, 5), np.float32))
    finally:
        keras.mixed_precision.set_global_policy("float32")
