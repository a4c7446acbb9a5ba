"""Completing hidden quadrants (`vae_helpers.models.completion`): the masks, the hidden pixels'
likelihood and the closed-form KL between two Gaussians against numpy and scipy, and the IWAE
bound on log p(x_h | x_o) against the integral on a grid of a 2-D model."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from vae_helpers import aggregate, config, data, evaluation, models, runs
from vae_helpers.models import completion


@pytest.fixture(scope="module")
def digits(bundled):
    return data.binarize_once(bundled.test_images[:3], "static")


@pytest.mark.parametrize("observed, seen", [(1, 196), (2, 392), (3, 588)])
def test_the_masks_show_whole_quadrants_in_pyros_order(observed, seen):
    mask = completion.observed_mask(observed)
    assert mask.shape == (28, 28, 1) and mask.sum() == seen
    assert mask[27, 0, 0] == 1 and mask[0, 0, 0] == 0  # bottom left always seen, top left never
    assert (mask[27, 27, 0] == 1) == (observed >= 2) and (mask[0, 27, 0] == 1) == (observed == 3)
    for bad in (0, 4, 1.5):
        with pytest.raises(ValueError, match="observed"):
            completion.observed_mask(bad)


def _bernoulli_hidden(x, logits, mask):
    x, logits = np.asarray(x, np.float64), np.asarray(logits, np.float64)
    per_pixel = x * special.log_expit(logits) + (1 - x) * special.log_expit(-logits)
    return np.sum(per_pixel * (1 - mask), axis=(1, 2, 3))


def test_the_terms_score_the_hidden_pixels_and_the_kl_to_the_conditional_prior(digits):
    config.set_seeds(2)
    model = models.CompletionCVAE(3, observed=2, seed=2)
    mask = completion.observed_mask(2)
    logits = tf.random.stateless_normal(digits.shape, (1, 1))
    got = model.pixel_log_likelihood(digits, logits).numpy()
    np.testing.assert_allclose(got, _bernoulli_hidden(digits, logits, mask), rtol=1e-5)
    flipped = digits.copy()
    flipped[:, 27, 0, 0] = 1 - flipped[:, 27, 0, 0]  # an observed pixel: no change
    np.testing.assert_allclose(model.pixel_log_likelihood(flipped, logits), got, rtol=1e-6)
    # The closed-form KL between q(z | x) and p(z | x_o) against the integral of q log(q / p) on a
    # fine grid, dimension by dimension, with scipy's densities.
    state = model.noise.state.numpy()
    terms = model.terms(digits)
    mean, logvar = (np.asarray(t, np.float64) for t in model.encode(digits))
    prior_mean, prior_logvar = (np.asarray(t, np.float64) for t in model.conditional_prior(digits))
    grid = np.linspace(-12, 12, 20001)
    kl = []
    for m, v, pm, pv in zip(mean, logvar, prior_mean, prior_logvar):
        q = stats.norm.pdf(grid[:, None], m, np.exp(v / 2))
        log_ratio = (stats.norm.logpdf(grid[:, None], m, np.exp(v / 2))
                     - stats.norm.logpdf(grid[:, None], pm, np.exp(pv / 2)))
        kl.append(np.sum(np.trapezoid(q * log_ratio, grid, axis=0)))
    np.testing.assert_allclose(terms["kl"], kl, rtol=1e-4, atol=1e-4)
    model.noise.state.assign(state)
    again = model.terms(digits)
    np.testing.assert_allclose(again["elbo"], again["reconstruction"] - again["kl"], rtol=1e-6)


def test_iwae_bounds_log_p_of_the_hidden_pixels_given_the_seen_ones(digits):
    # A 2-D model: log p(x_h | x_o) = log of the integral of p(x_h | z) p(z | x_o) over a grid.
    config.set_seeds(3)
    model = models.CompletionCVAE(2, observed=1, seed=3)
    mask = completion.observed_mask(1)
    grid_z, cell = aggregate.grid(-8, 8, 120)
    logits = model.decode_many(grid_z.astype(np.float32)).numpy()
    prior_mean, prior_logvar = (np.asarray(t, np.float64) for t in model.conditional_prior(digits))
    exact = []
    for image, m, v in zip(digits, prior_mean, prior_logvar):
        log_p = _bernoulli_hidden(np.repeat(image[None], len(grid_z), axis=0), logits, mask)
        exact.append(special.logsumexp(log_p + stats.norm.logpdf(grid_z, m, np.exp(v / 2)).sum(1)) + np.log(cell))
    found = evaluation.iwae_diagnostics(model, digits, 1000)
    np.testing.assert_allclose(found["iwae"], exact, atol=0.05)
    assert np.all(np.asarray(exact) < 0)
    with pytest.raises(ValueError, match="needs the observed pixels"):
        model.prior_log_prob(grid_z[:2])
    with pytest.raises(ValueError, match="prior of its own"):
        evaluation.rate_distortion(model, digits)
    with pytest.raises(ValueError, match="takes no labels"):
        evaluation.iwae(model, digits, 2, labels=[0, 1, 2])


def test_it_trains_reloads_and_completes_keeping_the_seen_pixels(small, digits):
    config.set_seeds(4)
    run = runs.train_model(small, models.CompletionCVAE(2, observed=3, seed=4), epochs=1, verbose=0)
    assert np.isfinite(run.history["val_elbo"][0])
    again = runs.train_model(small, models.CompletionCVAE(2, observed=3, seed=4), epochs=1, verbose=0)
    assert again.resumed_from == 1 and again.model.observed == 3
    filled = again.model.complete(digits).numpy()
    mask = completion.observed_mask(3)
    np.testing.assert_array_equal(filled * mask, digits * mask)
    assert np.all((filled >= 0) & (filled <= 1))
    with pytest.raises(ValueError, match="0/1 images"):
        evaluation.iwae(again.model, data.to_unit_images(small.test_images[:2]) * 0.5, 2)


def test_the_baseline_is_trained_on_the_hidden_pixels_and_scores_them_exactly(digits):
    config.set_seeds(5)
    baseline = models.CompletionBaseline(observed=2)
    baseline.compile(optimizer="adam")
    before = baseline.log_likelihood(digits).numpy()
    np.testing.assert_allclose(before, _bernoulli_hidden(digits, baseline(digits), completion.observed_mask(2)),
                               rtol=1e-5)
    baseline.fit(tf.data.Dataset.from_tensor_slices(digits).batch(3).repeat(20), epochs=1, shuffle=False, verbose=0)
    assert np.all(baseline.log_likelihood(digits).numpy() > before)
