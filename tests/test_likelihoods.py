"""Pixel likelihoods against scipy and quadrature on [0, 1]."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, special, stats

from vae_helpers import likelihoods, models, runs

# Logits on both sides of the series' threshold (0.1), at lambda = 0.5 exactly, and far out.
LOGITS = [0.0, 1e-7, -1e-4, 0.05, -0.0999, 0.1, 0.1001, -0.3, 1.0, -4.0, 12.0, -40.0]


def _pixel_density(x, logit):
    """lambda^x (1 - lambda)^(1 - x), the unnormalised continuous Bernoulli, float64."""
    return np.exp(x * special.log_expit(logit) + (1 - x) * special.log_expit(-logit))


def _log_normalizer_by_quadrature(logit):
    mass, _ = integrate.quad(_pixel_density, 0.0, 1.0, args=(logit,), epsabs=0, epsrel=1e-13)
    return -np.log(mass)


@pytest.mark.parametrize("logit", LOGITS)
def test_log_normalizer_is_minus_log_of_the_integral_of_the_unnormalised_density(logit):
    value = likelihoods.continuous_bernoulli_log_normalizer(tf.constant([logit], tf.float64))
    assert float(value[0]) == pytest.approx(_log_normalizer_by_quadrature(logit), abs=1e-11)


def test_log_normalizer_matches_the_papers_formula_in_lambda_away_from_one_half():
    # C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda), Loaiza-Ganem & Cunningham (2019), eq. 7.
    lam = np.array([0.01, 0.2, 0.4, 0.6, 0.93])
    expected = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))
    logits = tf.constant(special.logit(lam), tf.float64)
    np.testing.assert_allclose(likelihoods.continuous_bernoulli_log_normalizer(logits), expected, rtol=1e-12)


@pytest.mark.parametrize("logit", [0.0, 1e-6, 0.0999999, 0.1000001, -0.1000001, 2.0])
def test_log_normalizer_gradient_is_finite_and_right_near_one_half(logit):
    # Float32, as in training: the closed form's gradient there cancels two large terms.
    x = tf.constant(logit, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = likelihoods.continuous_bernoulli_log_normalizer(x)
    gradient = float(tape.gradient(value, x))
    step = 1e-4
    expected = (_log_normalizer_by_quadrature(logit + step) - _log_normalizer_by_quadrature(logit - step)) / (2 * step)
    assert np.isfinite(gradient) and gradient == pytest.approx(expected, abs=2e-5)


def test_continuous_bernoulli_is_a_normalised_density_on_the_unit_interval():
    for logit in LOGITS:
        log_c = float(likelihoods.continuous_bernoulli_log_normalizer(tf.constant(logit, tf.float64)))
        mass, _ = integrate.quad(lambda x: _pixel_density(x, logit) * np.exp(log_c), 0.0, 1.0, epsrel=1e-12)
        assert mass == pytest.approx(1.0, abs=1e-10)


def test_continuous_bernoulli_log_likelihood_sums_the_pixel_log_densities():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 28, 28, 1))
    x[0, :5, 0, 0] = [0.0, 1.0, 0.5, 0.0, 1.0]  # the interval's ends included
    logits = rng.normal(scale=3.0, size=x.shape)
    logits[1, :4, 0, 0] = [0.0, 1e-5, -0.05, 0.1]
    expected = [
        sum(np.log(_pixel_density(xi, li)) + _log_normalizer_by_quadrature(li)
            for xi, li in zip(xe.ravel(), le.ravel()))
        for xe, le in zip(x, logits)
    ]
    got = likelihoods.continuous_bernoulli(tf.constant(x), tf.constant(logits))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("logit", LOGITS)
def test_continuous_bernoulli_mean_is_the_integral_of_x_times_the_density(logit):
    log_c = -_log_normalizer_by_quadrature(logit)
    mean, _ = integrate.quad(lambda x: x * _pixel_density(x, logit), 0.0, 1.0, epsabs=0, epsrel=1e-13)
    got = float(likelihoods.continuous_bernoulli_mean(tf.constant(logit, tf.float64)))
    assert got == pytest.approx(mean / np.exp(log_c), abs=1e-11)


def test_bernoulli_matches_scipy_on_binary_pixels():
    rng = np.random.default_rng(1)
    x = (rng.uniform(size=(2, 28, 28, 1)) < 0.3).astype(np.float64)
    logits = rng.normal(scale=4.0, size=x.shape)
    expected = stats.bernoulli.logpmf(x, special.expit(logits)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(likelihoods.bernoulli(tf.constant(x), tf.constant(logits)), expected, rtol=1e-10)


def test_bernoulli_cross_entropy_on_grey_pixels_is_not_a_density():
    # Integrated over a grey pixel x in [0, 1] it gives 1 / C(lambda) < 1: the mass the
    # continuous Bernoulli's constant restores.
    def per_pixel(x, logit):
        # Every pixel alike, so one pixel's term is the image's total / 784.
        image = tf.fill((1, 28, 28, 1), tf.constant(x, tf.float64))
        logits = tf.fill((1, 28, 28, 1), tf.constant(logit, tf.float64))
        return float(likelihoods.bernoulli(image, logits)[0]) / 784

    for logit in [0.0, 0.7, -3.0, 9.0]:
        mass, _ = integrate.quad(lambda x: np.exp(per_pixel(x, logit)), 0.0, 1.0, epsrel=1e-10)
        expected = np.exp(-_log_normalizer_by_quadrature(logit))
        assert mass == pytest.approx(expected, rel=1e-8) and mass < 1.0


@pytest.mark.parametrize("log_scale", [np.log(0.1), 0.0, np.full((1, 28, 28, 1), -1.0)])
def test_gaussian_matches_scipy_normal(log_scale):
    rng = np.random.default_rng(2)
    x = rng.uniform(size=(2, 28, 28, 1))
    logits = rng.normal(size=x.shape)
    expected = stats.norm.logpdf(x, special.expit(logits), np.exp(log_scale)).sum(axis=(1, 2, 3))
    got = likelihoods.gaussian(tf.constant(x), tf.constant(logits), tf.constant(log_scale, tf.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_unknown_likelihood_names_the_choices():
    with pytest.raises(ValueError, match="continuous_bernoulli"):
        likelihoods.check_name("beta")


@pytest.mark.parametrize("name", ["continuous_bernoulli", "bernoulli"])
@pytest.mark.parametrize("value, match", [
    (2.0, r"expected pixel values in \[0, 1\]; got values from 0 to 2"),
    (-0.5, r"expected pixel values in \[0, 1\]"),
    (np.nan, "NaN"),
])
def test_the_bernoullis_refuse_pixels_outside_the_unit_interval(name, value, match):
    # v0.1: the continuous Bernoulli gave 0 nats to a pixel of 2 at logit 0, a "density" of 1.
    x = np.zeros((1, 28, 28, 1), np.float32)
    x[0, 3, 4, 0] = value
    with pytest.raises(ValueError, match=f"^{name}'s x.*{match}"):
        getattr(likelihoods, name)(x, tf.zeros_like(x))


def test_the_check_is_made_once_per_eager_call_and_not_in_a_compiled_step():
    x = np.random.default_rng(5).uniform(size=(3, 28, 28, 1)).astype(np.float32)
    logits = tf.constant(np.random.default_rng(6).normal(size=x.shape), tf.float32)
    compiled = tf.function(likelihoods.continuous_bernoulli)
    np.testing.assert_allclose(compiled(tf.constant(x), logits), likelihoods.continuous_bernoulli(x, logits), rtol=1e-6)
    # In the compiled step nothing is checked (training.train checked the data): no numpy, no assert op.
    graph = compiled.get_concrete_function(tf.constant(x), logits).graph
    assert not [op for op in graph.get_operations() if op.type in ("Assert", "PyFunc", "EagerPyFunc")]


def test_a_gaussian_is_refused_binary_training_data_but_not_grey_levels():
    with pytest.raises(ValueError, match="Gaussian likelihood cannot be trained on 0/1 pixels.*binarization='as_is'"):
        likelihoods.check_training_data("gaussian", binary=True)
    for name, binary in (("gaussian", False), ("bernoulli", True), ("continuous_bernoulli", False)):
        assert likelihoods.check_training_data(name, binary) is None


def test_train_model_refuses_a_gaussian_on_binarised_digits_before_any_work(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    model = models.LikelihoodCVAE(2, "gaussian", seed=0)
    with pytest.raises(ValueError, match="Gaussian likelihood cannot be trained on 0/1 pixels"):
        runs.train_model(bundled, model, binarization="dynamic", verbose=0)
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


def test_training_a_gaussian_on_binary_pixels_directly_is_refused_before_a_step(bundled, tmp_path):
    """training.train itself refuses it (runs.train_model checked it already; a direct call did not)."""
    from vae_helpers import data, training

    binary = data.make_dataset(bundled.train_images[:64], batch_size=32, binarization="static")
    model = models.LikelihoodCVAE(2, "gaussian", seed=0)
    with pytest.raises(ValueError, match="Gaussian likelihood cannot be trained on 0/1 pixels"):
        training.train(model, binary, binary, epochs=1, verbose=0, checkpoint=str(tmp_path / "g.keras"))
    assert not (tmp_path / "g.keras").exists()
    # Grey levels train (chapter 11's Gaussian).
    grey = data.make_dataset(bundled.train_images[:64], batch_size=32, binarization="as_is")
    run = training.train(models.LikelihoodCVAE(2, "gaussian", seed=0), grey, grey, epochs=1, verbose=0)
    assert np.isfinite(run.history["val_elbo"][-1])


@pytest.mark.parametrize("logit", [1e-4, -1e-2, 1e-2, 0.0999, 0.1001, -0.1001, 1.0])
def test_log_normalizer_float32_gradient_is_the_float64_closed_form(logit):
    # d log C / d eta = 1/eta - 1/sinh(eta), in float64 (error ~1e-16 / eta^2 relative); the
    # closed form in float32 would be off by 2e-3 at 1e-2 and by 100% at 1e-4.
    x = tf.constant(logit, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = likelihoods.continuous_bernoulli_log_normalizer(x)
    eta = float(np.float32(logit))
    assert float(tape.gradient(value, x)) == pytest.approx(1 / eta - 1 / np.sinh(eta), rel=1e-4)
