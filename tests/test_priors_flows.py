"""Learned priors and the flow posterior of `vae_helpers.models` (issue 8/8's models), against
independent computations: the VampPrior against a scipy mixture of the encoder's posteriors at
the pseudo-inputs, the IAF's log-determinant against the log-determinant of its Jacobian computed
by automatic differentiation, and every density integrating to 1 on a 2-D grid."""

import numpy as np
import pytest
import tensorflow as tf
from scipy import special, stats

from vae_helpers import aggregate, config, data, evaluation, losses, models, runs


@pytest.fixture(scope="module")
def digits(bundled):
    return data.binarize_once(bundled.test_images[:4], "static")


def test_the_vampprior_is_the_mixture_of_the_encoders_posteriors_at_the_pseudo_inputs():
    config.set_seeds(3)
    model = models.VampPriorCVAE(2, pseudo_inputs=4, seed=3)
    mean, logvar = (np.asarray(t, np.float64) for t in model.encode(model.pseudo_images()))
    z = np.random.default_rng(0).normal(size=(7, 2)) * 2
    expected = special.logsumexp([stats.multivariate_normal.logpdf(z, m, np.diag(np.exp(v)))
                                  for m, v in zip(mean, logvar)], axis=0) - np.log(4)
    np.testing.assert_allclose(model.prior_log_prob(z), expected, rtol=1e-5)
    # (num_samples, batch, d) codes, as IWAE passes them.
    np.testing.assert_allclose(model.prior_log_prob(z.reshape(7, 1, 2))[:, 0], expected, rtol=1e-5)
    grid_z, cell = aggregate.grid(-12, 12, 500)
    assert abs(np.exp(np.asarray(model.prior_log_prob(grid_z), np.float64)).sum() * cell - 1) < 1e-3
    assert float(tf.reduce_min(model.pseudo_images())) > 0 and float(tf.reduce_max(model.pseudo_images())) < 1
    with pytest.raises(ValueError, match="prior of its own"):
        losses.elbo_terms(model, np.zeros((1, 28, 28, 1), np.float32), kl="analytic")


def test_the_vampprior_trains_its_pseudo_inputs_and_reloads(small):
    config.set_seeds(4)
    model = models.VampPriorCVAE(2, pseudo_inputs=5, seed=4)
    before = model.pseudo_logits.numpy().copy()
    run = runs.train_model(small, model, epochs=1, verbose=0)
    assert np.isfinite(run.history["val_elbo"][0])
    assert not np.array_equal(run.model.pseudo_logits.numpy(), before)
    again = runs.train_model(small, models.VampPriorCVAE(2, pseudo_inputs=5, seed=4), epochs=1, verbose=0)
    assert again.resumed_from == 1 and type(again.model) is models.VampPriorCVAE
    np.testing.assert_array_equal(again.model.pseudo_logits.numpy(), run.model.pseudo_logits.numpy())


@pytest.mark.parametrize("latent_dim", [1, 3, 5])
def test_the_made_masks_are_autoregressive(latent_dim):
    into, out = models.flows.made_masks(latent_dim, 12)
    # Output i depends on input j through some hidden unit iff j < i.
    reach = (into @ out) > 0
    assert np.array_equal(reach, np.triu(np.ones((latent_dim, latent_dim), bool), k=1))


def test_the_flows_log_determinant_is_its_jacobians():
    config.set_seeds(5)
    model = models.IAFCVAE(3, steps=3, context=4, hidden=16, seed=5)
    # Steps away from the identity: their weights as a trained flow might have them.
    for weight in model.flow_weights():
        weight.assign(weight + tf.random.stateless_normal(weight.shape, (1, 2), stddev=0.5))
    rng = np.random.default_rng(1)
    z0 = tf.constant(rng.normal(size=(6, 3)), tf.float32)
    h = tf.constant(rng.normal(size=(6, 4)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(z0)
        z, log_det = model.push(z0, h)
    jacobian = tape.batch_jacobian(z, z0).numpy().astype(np.float64)  # (6, 3, 3)
    _, log_abs_det = np.linalg.slogdet(jacobian)
    np.testing.assert_allclose(log_det.numpy(), log_abs_det, rtol=1e-4, atol=1e-4)
    # The Jacobian of one step is triangular: the flow is not the identity, it is autoregressive.
    assert np.max(np.abs(jacobian - np.eye(3))) > 0.05
    # Pulling the codes back gives z0 and the same log-determinant.
    back, pulled = model.pull(z, h)
    np.testing.assert_allclose(back.numpy(), z0.numpy(), atol=1e-4)
    np.testing.assert_allclose(pulled.numpy(), log_det.numpy(), rtol=1e-4, atol=1e-4)


def test_the_flow_posterior_scores_its_own_draws_and_is_a_density(digits):
    config.set_seeds(6)
    model = models.IAFCVAE(2, steps=2, context=4, hidden=16, seed=6)
    for weight in model.flow_weights():
        weight.assign(weight + tf.random.stateless_normal(weight.shape, (3, 4), stddev=0.5))
    z, log_q = model.posterior_sample(digits, num_samples=5, seed=7)
    assert z.shape == (5, 4, 2) and log_q.shape == (5, 4)
    np.testing.assert_allclose(model.posterior_log_prob(z, digits), log_q, rtol=1e-4, atol=1e-4)
    # q(z|x) of one digit integrates to 1 over a grid that holds it.
    grid_z, cell = aggregate.grid(-15, 15, 600)
    log_density = model.posterior_log_prob(grid_z[:, None, :].astype(np.float32), digits[:1])[:, 0]
    assert abs(np.exp(np.asarray(log_density, np.float64)).sum() * cell - 1) < 2e-3


def test_the_flow_trains_scores_by_iwae_and_refuses_the_gaussian_closed_forms(small, digits):
    config.set_seeds(8)
    model = models.IAFCVAE(2, steps=2, context=4, hidden=8, seed=8)
    run = runs.train_model(small, model, epochs=1, verbose=0)
    assert np.isfinite(run.history["val_elbo"][0])
    # IWAE through the contract: the flow's own draws and densities.
    one, many = (evaluation.iwae(run.model, digits, k) for k in (1, 64))
    assert np.all(np.isfinite(many)) and np.mean(many) > np.mean(one)
    again = runs.train_model(small, models.IAFCVAE(2, steps=2, context=4, hidden=8, seed=8), epochs=1, verbose=0)
    assert again.resumed_from == 1
    for saved, loaded in zip(run.model.get_weights(), again.model.get_weights()):
        np.testing.assert_array_equal(saved, loaded)
    for closed_form in (lambda: evaluation.rate_distortion(run.model, digits),
                        lambda: evaluation.encoder_elbo(run.model, digits),
                        lambda: losses.elbo_terms(run.model, digits, kl="analytic")):
        with pytest.raises(ValueError, match="posterior of its own"):
            closed_form()
    with pytest.raises(ValueError, match="context a positive even int"):
        models.IAFCVAE(2, context=3)
