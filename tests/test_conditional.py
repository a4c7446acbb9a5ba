"""The conditional VAE and the semi-supervised M2 of `vae_helpers.models`, against by-hand numpy.

The conditional ELBO is recomputed from the encoder's and decoder's outputs with scipy's
densities; M2's unlabelled bound from ten such labelled bounds, q(y|x) and its entropy."""

import dataclasses
import math

import keras
import numpy as np
import pytest
from scipy import special, stats

from vae_helpers import aggregate, config, data, evaluation, models, runs


@pytest.fixture(scope="module")
def images(bundled):
    return data.binarize_once(bundled.test_images[:5], "static"), bundled.test_labels[:5]


def _bernoulli(x, logits):
    flat, logits = np.asarray(x, np.float64).reshape(len(x), -1), np.asarray(logits, np.float64).reshape(len(x), -1)
    return np.sum(flat * special.log_expit(logits) + (1 - flat) * special.log_expit(-logits), axis=1)


def _elbo_by_hand(model, x, labels, eps):
    """log p(x|z, y) + log p(z) - log q(z|x, y) at z = mean + std * eps, with scipy (float64)."""
    mean, logvar = (np.asarray(t, np.float64) for t in model.encode(x, labels))
    z = mean + np.exp(0.5 * logvar) * np.asarray(eps, np.float64)
    logits = model.decode(z.astype(np.float32), labels)
    log_q = stats.norm.logpdf(z, mean, np.exp(0.5 * logvar)).sum(1)
    return _bernoulli(x, logits) + stats.norm.logpdf(z).sum(1) - log_q


def test_the_conditional_elbo_is_its_by_hand_formula(images):
    x, labels = images
    model = models.ConditionalVAE(3, seed=2)
    state = model.noise.state.numpy()
    got = model.terms(x, labels)["elbo"].numpy()
    model.noise.state.assign(state)  # the same draw of eps, replayed
    eps = keras.random.normal((len(x), 3), seed=model.noise)
    np.testing.assert_allclose(got, _elbo_by_hand(model, x, labels, eps), rtol=1e-5)
    # The label is used: another digit gives another bound.
    model.noise.state.assign(state)
    other = model.terms(x, (labels + 1) % 10)["elbo"].numpy()
    assert np.all(np.abs(other - got) > 1e-4)


def test_sample_draws_the_digits_asked_for_as_pixel_probabilities():
    model = models.ConditionalVAE(2, seed=3)
    pictures = np.asarray(model.sample(np.arange(10)))
    assert pictures.shape == (10, 28, 28, 1) and np.all((pictures > 0) & (pictures < 1))
    z = np.zeros((2, 2), np.float32)
    same_z = np.asarray(model.sample([3, 8], z=z))
    assert not np.allclose(same_z[0], same_z[1])  # one style, two digits
    np.testing.assert_array_equal(same_z, np.asarray(model.sample([3, 8], z=z)))


@pytest.mark.parametrize("labels, match", [
    ([0, 10], "digits 0-9"),
    ([-1, 2], "digits 0-9"),
    ([[0], [1]], "shape \\(N,\\)"),
    ([0.5, 1.0], "whole numbers"),
])
def test_bad_labels_are_refused_with_the_fix(labels, match):
    model = models.ConditionalVAE(2, seed=3)
    with pytest.raises(ValueError, match=match):
        model.sample(labels)
    with pytest.raises(ValueError, match=match):
        model.terms(np.zeros((2, 28, 28, 1), np.float32), labels)


def test_one_label_per_code():
    with pytest.raises(ValueError, match="one label per code: 3 codes, 2 labels"):
        models.ConditionalVAE(2, seed=3).decode(np.zeros((3, 2), np.float32), [1, 2])


def test_m2s_unlabelled_bound_sums_the_label_out_by_hand(images):
    x, labels = images
    model = models.SemiSupervisedVAE(3, labelled=20, alpha=5.0, seed=4)
    state = model.noise.state.numpy()
    mixed = np.where(np.arange(len(x)) % 2 == 0, -1, labels)  # images 0, 2, 4 unlabelled
    terms = {k: v.numpy() for k, v in model.terms(x, mixed).items()}
    # The ten labelled bounds by hand, from the same draws: one (10 N, 3) draw, digit y's
    # block of N rows after digit y - 1's.
    model.noise.state.assign(state)
    noise = np.asarray(keras.random.normal((10 * len(x), 3), seed=model.noise)).reshape(10, len(x), 3)
    bounds = np.stack([_elbo_by_hand(model, x, np.full(len(x), digit), noise[digit])
                       for digit in range(10)], axis=1) - math.log(10)  # + log p(y), p(y) = 1/10
    q = np.asarray(model.classify(x), np.float64)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-6)
    unlabelled = np.sum(q * bounds, axis=1) - np.sum(q * np.log(q), axis=1)
    labelled = bounds[np.arange(len(x)), labels]
    expected = np.where(mixed == -1, unlabelled, labelled)
    np.testing.assert_allclose(terms["elbo"], expected, rtol=1e-5)
    np.testing.assert_allclose(terms["classification"], np.where(mixed == -1, 0.0, np.log(q[np.arange(len(x)), labels])),
                               rtol=1e-5, atol=1e-6)
    # The objective adds alpha log q(y|x) for labelled images only.
    model.noise.state.assign(state)
    np.testing.assert_allclose(model.objective(model.terms(x, mixed)), -terms["elbo"] - 5.0 * terms["classification"],
                               rtol=1e-5)


def test_m2_keeps_the_same_number_of_labels_of_each_digit(bundled):
    model = models.SemiSupervisedVAE(2, labelled=100, alpha=1.0, seed=5)
    kept = model.training_labels(bundled.train_labels)
    assert np.sum(kept != data.UNLABELLED) == 100
    assert np.all(kept[kept != -1] == bundled.train_labels[kept != -1])
    assert np.bincount(kept[kept != -1], minlength=10).tolist() == [10] * 10
    np.testing.assert_array_equal(kept, models.SemiSupervisedVAE(2, labelled=100, alpha=1.0, seed=5)
                                  .training_labels(bundled.train_labels))
    other = models.SemiSupervisedVAE(2, labelled=100, alpha=1.0, seed=6).training_labels(bundled.train_labels)
    assert not np.array_equal(kept, other)
    with pytest.raises(ValueError, match="multiple of 10"):
        models.SemiSupervisedVAE(2, labelled=15, alpha=1.0)
    with pytest.raises(ValueError, match="fewer than the 50"):
        models.SemiSupervisedVAE(2, labelled=500, alpha=1.0).training_labels(bundled.train_labels[:100])


def test_both_train_through_the_books_recipe_and_reload(bundled, tmp_path, monkeypatch):
    monkeypatch.setenv("VAE_QUICK", "1")
    monkeypatch.setenv("VAE_FETCH_MODELS", "0")
    monkeypatch.setenv("VAE_CHECKPOINT_DIR", str(tmp_path))
    small = dataclasses.replace(bundled, train_images=bundled.train_images[:200], train_labels=bundled.train_labels[:200],
                                test_images=bundled.test_images[:64], test_labels=bundled.test_labels[:64])
    for make in (lambda: models.ConditionalVAE(2, seed=config.SEED),
                 lambda: models.SemiSupervisedVAE(2, labelled=20, alpha=10.0, seed=config.SEED)):
        config.set_seeds()
        run = runs.train_model(small, make(), epochs=1, verbose=0)
        assert np.isfinite(run.history["val_elbo"][0])
        again = runs.train_model(small, make(), epochs=1, verbose=0)
        assert again.resumed_from == 1 and type(again.model) is type(run.model)
        for saved, loaded in zip(run.model.get_weights(), again.model.get_weights()):
            np.testing.assert_array_equal(saved, loaded)
    assert 0.0 <= run.history["val_accuracy"][0] <= 1.0
    probabilities = np.asarray(again.model.classify(small.test_images[:4]))
    assert probabilities.shape == (4, 10) and np.allclose(probabilities.sum(1), 1.0, rtol=1e-5)


def test_the_labelled_only_baseline_learns_and_refuses_bad_labels(bundled):
    x, y = bundled.train_images[:200], bundled.train_labels[:200]
    classify = models.semi_supervised.train_classifier(x, y, seed=3, steps=60)
    probabilities = classify(bundled.test_images[:300])
    assert probabilities.shape == (300, 10)
    np.testing.assert_allclose(probabilities.sum(1), 1.0, rtol=1e-5)
    # 60 steps on 200 digits: far above the 10% of a guess (a binomial s.e. is under 3 points).
    assert np.mean(probabilities.argmax(1) == bundled.test_labels[:300]) > 0.4
    again = models.semi_supervised.train_classifier(x, y, seed=3, steps=60)(bundled.test_images[:300])
    np.testing.assert_allclose(again, probabilities, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="one entry per image"):
        models.semi_supervised.train_classifier(x, y[:10], seed=3, steps=1)
    with pytest.raises(ValueError, match="digits 0-9"):
        models.semi_supervised.train_classifier(x, y + 10, seed=3, steps=1)


def test_iwae_of_log_p_x_given_y_meets_the_exact_value_on_a_grid(bundled):
    # An untrained 2-D conditional VAE: log p(x|y) = log of the integral of p(x|z, y) N(z; 0, I)
    # over a grid wide enough to hold the prior, with the decoder at every node.
    config.set_seeds(11)
    model = models.ConditionalVAE(2, seed=11)
    # Weights from the label inputs made large, so that each label draws its own images and a
    # bound computed at the wrong labels could not pass for the right one.
    kernel = model.decoder.layers[0].kernel
    kernel.assign(kernel + np.concatenate([np.zeros((2, kernel.shape[1])),
                                           np.random.default_rng(4).normal(0, 3.0, (10, kernel.shape[1]))]))
    x = data.binarize_once(bundled.test_images[:2], "static")
    y = bundled.test_labels[:2]
    grid_z, cell = aggregate.grid(-7, 7, 120)

    def exact(labels):
        values = []
        for image, label in zip(x, labels):
            logits = model.decode(grid_z.astype(np.float32), np.full(len(grid_z), label))
            log_p = _bernoulli(np.repeat(image[None], len(grid_z), axis=0), logits)
            values.append(special.logsumexp(log_p + stats.norm.logpdf(grid_z).sum(1)) + np.log(cell))
        return np.array(values)

    wrong_y = (y + 1) % 10
    right, wrong = exact(y), exact(wrong_y)
    assert np.all(np.abs(right - wrong) > 0.3), (right, wrong)  # the labels matter
    for labels, value in ((y, right), (wrong_y, wrong)):
        found = evaluation.iwae_diagnostics(model, x, 1000, labels=labels)
        # k = 1,000 draws from a posterior this broad: within float32's noise of the integral,
        # and well inside the difference the labels make.
        np.testing.assert_allclose(found["iwae"], value, atol=0.05)
        assert np.all(found["standard_error"] < 0.05)
    with pytest.raises(ValueError, match="needs each image's label"):
        evaluation.iwae(model, x, 2)
    with pytest.raises(ValueError, match="takes no labels"):
        evaluation.iwae(models.CVAE(2, seed=1), x, 2, labels=y)
    with pytest.raises(ValueError, match="one entry per image"):
        evaluation.iwae(model, x, 2, labels=y[:1])
