"""The checks that chapters 1, 2, 6 and 10 make can fail: each passes on the right input and fails on
a perturbed one. (The chapters run them on their own data; these tests rerun the same comparison
on small cases, so that a check that can no longer fail shows up here.)"""

import math

import numpy as np
from scipy import spatial, special, stats

from vae_helpers import bounds, latent, toy


def _gap_and_kl(decoder, x, mean, logvar, log_q_of_sample=None, num_samples=200_000):
    """Chapter 2's nonlinear check: log p(x) - ELBO (package quadrature, Monte Carlo ELBO) and
    KL(q || p(z|x)) by a separate numpy/scipy quadrature. `log_q_of_sample` replaces the ELBO's
    log q (to plant a bug). Returns (gap, its standard error, KL)."""
    log_px = decoder.log_marginal(x).numpy()[0]
    if log_q_of_sample is None:
        weights = bounds.log_weights(lambda z: decoder.log_joint(x, z), mean, logvar, num_samples, seed=10)
        weights = weights.numpy()[:, 0]
    else:
        z = bounds.sample_q(mean, logvar, num_samples, seed=10)
        weights = decoder.log_joint(x, z).numpy()[:, 0] - log_q_of_sample(z.numpy()[:, 0, :])
    axis = np.linspace(-8, 8, 801)
    nodes = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    logits = np.tanh(nodes @ decoder.w1.T + decoder.b1) @ decoder.w2.T + decoder.b2
    log_joint = special.log_expit((2 * x[0] - 1) * logits).sum(axis=1) + stats.norm.logpdf(nodes).sum(axis=1)
    cell = (axis[1] - axis[0]) ** 2
    log_posterior = log_joint - special.logsumexp(log_joint) - np.log(cell)
    log_q = stats.norm.logpdf(nodes, mean[0], np.exp(0.5 * logvar[0])).sum(axis=1)
    kl = np.sum(np.exp(log_q) * cell * (log_q - log_posterior))
    return log_px - weights.mean(), weights.std() / np.sqrt(num_samples), kl


def test_chapter_2_gap_check_holds_and_catches_an_elbo_that_scores_q_with_the_wrong_scale():
    decoder = toy.TinyBernoulliDecoder(num_pixels=8, latent_dim=2, seed=42)
    x, _ = decoder.sample(1, seed=2)
    mean, logvar = np.array([[0.2, -0.3]]), np.array([[-1.0, -1.5]])
    gap, error, kl = _gap_and_kl(decoder, x, mean, logvar)
    assert abs(gap - kl) < 4 * error + 1e-4

    # The classic slip: the variance passed where the standard deviation belongs.
    def wrong_log_q(z):
        return stats.norm.logpdf(z, mean[0], np.exp(logvar[0])).sum(axis=1)

    gap, error, kl = _gap_and_kl(decoder, x, mean, logvar, log_q_of_sample=wrong_log_q)
    assert abs(gap - kl) > 10 * error + 1e-4
    # The identity chapter 2 used to assert, ELBO + KL = sum of q's mass times log p(x) on one
    # grid, holds for any q and any joint: it could not have caught this.


def _share_below_check(axis_values, probabilities, num_draws=200_000):
    """Chapter 6's grid check: the share of prior draws below each value is its probability."""
    draws = np.sort(np.random.default_rng(0).normal(size=num_draws))
    share_below = np.searchsorted(draws, axis_values) / num_draws
    tolerance = 4 * np.sqrt(probabilities * (1 - probabilities) / num_draws)
    return bool(np.all(np.abs(share_below - probabilities) < tolerance))


def test_chapter_6_grid_check_passes_for_quantiles_and_fails_for_an_even_grid_in_z():
    probabilities = np.linspace(0.05, 0.95, 20)
    quantiles = latent.quantile_grid(num_per_axis=20)[:20, 0]
    assert _share_below_check(quantiles, probabilities)
    even = np.linspace(quantiles[0], quantiles[-1], 20)  # same ends, even steps in z
    assert not _share_below_check(even, probabilities)
    # What the chapter checked before, cdf(ppf(p)) = p, cannot tell a wrong range apart from the
    # right one; the draws can.
    assert not _share_below_check(latent.quantile_grid(20, low=0.02, high=0.98)[:20, 0], probabilities)


def test_chapter_6_square_and_grid_masses_are_what_the_prose_says():
    half_width = stats.norm.ppf(0.975)
    draws = np.random.default_rng(1).normal(size=(400_000, 2))
    inside = np.mean(np.all(np.abs(draws) < half_width, axis=1))
    assert abs(inside - 0.9025) < 4 * math.sqrt(0.9025 * 0.0975 / len(draws))
    ends = latent.quantile_grid(20)[[0, 19], 0]
    inside_grid = np.mean(np.all((draws > ends[0]) & (draws < ends[1]), axis=1))
    assert abs(inside_grid - 0.81) < 4 * math.sqrt(0.81 * 0.19 / len(draws))


def test_chapter_6_exercise_check_accepts_quantiles_and_rejects_an_even_axis():
    def probabilities(values):
        return np.array([0.5 * (1 + math.erf(value / math.sqrt(2))) for value in values])

    expected = np.linspace(0.05, 0.95, 7)
    assert np.allclose(probabilities(stats.norm.ppf(expected)), expected, atol=1e-9)
    even = np.linspace(stats.norm.ppf(0.05), stats.norm.ppf(0.95), 7)
    assert not np.allclose(probabilities(even), expected, atol=1e-9)


def _neighbour_check(codes, labels, margin=4):
    """Chapter 6's clustering check: nearest-neighbour label agreement above chance."""
    _, nearest = spatial.cKDTree(codes).query(codes, k=2)
    agreement = np.mean(labels[nearest[:, 1]] == labels)
    shares = np.bincount(labels, minlength=10) / len(labels)
    chance = np.sum(shares**2)
    return agreement > chance + margin * np.sqrt(chance * (1 - chance) / len(labels))


def test_chapter_6_neighbour_check_passes_for_clusters_and_fails_for_shuffled_labels():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 10, size=1000)
    centres = rng.normal(scale=3.0, size=(10, 2))
    codes = centres[labels] + rng.normal(size=(1000, 2))
    assert _neighbour_check(codes, labels)
    assert not _neighbour_check(codes, rng.permutation(labels))


def test_chapter_1_slope_check_tells_the_prior_estimator_at_d_8_from_a_healthy_one():
    """Chapter 1 asserts the naive estimator's error falls with a slope above -0.4 at d = 8. An
    estimator that converged at the Monte Carlo rate, with error proportional to 1/sqrt(S),
    fails it."""
    counts = np.array([10, 100, 1_000, 10_000])
    healthy = 3.0 / np.sqrt(counts)
    assert np.polyfit(np.log(counts), np.log(healthy), 1)[0] < -0.4
    model = toy.LinearGaussian.random(seed=18, data_dim=16, latent_dim=8, noise_std=0.3)
    x, _ = model.sample(1, seed=3)
    exact = model.log_marginal(x).numpy()[0]
    prior = np.zeros((1, 8))
    errors = [
        np.mean([abs(bounds.iwae(lambda z: model.log_joint(x, z), prior, prior, int(s), seed=r).numpy()[0] - exact)
                 for r in range(4)])
        for s in counts
    ]
    assert np.polyfit(np.log(counts), np.log(errors), 1)[0] > -0.4


# Chapter 13 (tf.distribute). Replicas exist only in a process that split its CPU before TensorFlow
# started (tests/test_distributed.py runs those); here each check is fed what one device computes
# by hand, as the chapter's replicas would give it, and what they would give if it were wrong.

def _chapter_10_step_check(replicas, one, per_replica_mean, fixed):
    """Chapter 13's first comparison: two replicas or more, the per-replica mean steps N times as
    far as one device, the fixed loss takes one device's step."""
    length = np.linalg.norm(per_replica_mean) / np.linalg.norm(one)
    gap = np.abs(fixed - one).max() / np.abs(one).max()
    return replicas >= 2 and abs(length - replicas) < 1e-3 * replicas and gap < 1e-4


def test_chapter_10_step_check_fails_on_one_replica_and_on_a_fix_that_is_not_one():
    one = np.random.default_rng(0).normal(size=1000)
    assert _chapter_10_step_check(2, one, 2 * one, one * (1 + 1e-6))
    # Colab's one GPU made one replica: every step is one device's, and the old checks
    # (length == replicas, gap small) held trivially.
    assert not _chapter_10_step_check(1, one, one, one)
    assert not _chapter_10_step_check(2, one, 2 * one, 2 * one)


def _cvae_gradients(num_images=64, penalty=0.0):
    """The point-mass CVAE's data gradients (a share's sum / num_images) for the two halves of the
    first `num_images` bundled digits, as lists of tensors; the gradient of `penalty` times the
    sum of squared kernel weights, flattened to (num_weights,); the model; and `flat`, which
    flattens a list of tensors so."""
    import tensorflow as tf

    from vae_helpers import config, distributed, losses, models

    config.set_seeds()
    model = distributed.point_mass(models.CVAE(2, seed=config.SEED))
    images = tf.constant(distributed.worker_images(num_images))
    half = num_images // 2

    def flat(tensors):
        return np.concatenate([t.numpy().ravel() for t in tensors])

    shares = []
    for share in (images[:half], images[half:]):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model.objective(losses.elbo_terms(model, share))) / num_images
        shares.append(tape.gradient(loss, model.trainable_weights))
    # The gradient of PENALTY * sum of squared kernel weights, in closed form: 2 PENALTY w.
    penalty_gradient = np.concatenate([
        (2 * penalty * w.numpy() if w.path.endswith("kernel") else np.zeros(w.shape)).ravel()
        for w in model.trainable_weights])
    return shares, penalty_gradient, model, flat


def _adam_first_step(gradient, learning_rate=1e-3):
    # Keras' Adam, step 1: m-hat = g, v-hat = g^2, epsilon scaled by sqrt(1 - beta_2).
    return -learning_rate * gradient / (np.abs(gradient) + 1e-7 / np.sqrt(1 - 0.999))


def _chapter_10_penalty_check(alone, steps):
    """Chapter 13's penalty check on one Adam step: `steps` maps each reduction to its step."""
    flipped = {name: np.mean(np.sign(step) != np.sign(alone)) for name, step in steps.items()}
    moved = {name: np.linalg.norm(step - alone) / np.linalg.norm(alone) for name, step in steps.items()}
    return (flipped["mean per replica"] == 0 and moved["mean per replica"] < 0.05
            and flipped["unscaled penalty"] > 0 and moved["unscaled penalty"] > 0.1
            and moved["scaled penalty"] < 1e-4)


def test_chapter_10_penalty_check_holds_by_hand_and_fails_if_the_penalty_counted_once():
    shares, penalty, _, flat = _cvae_gradients(penalty=0.1)
    data = flat(shares[0]) + flat(shares[1])  # the all-reduce of the fixed loss
    n = 2
    alone = _adam_first_step(data + penalty)
    steps = {"mean per replica": _adam_first_step(n * (data + penalty)),
             "unscaled penalty": _adam_first_step(data + n * penalty),
             "scaled penalty": _adam_first_step(data + n * penalty / n)}
    assert _chapter_10_penalty_check(alone, steps)
    # Had the unscaled penalty counted once (as scale_regularization_loss makes it), or had the
    # bug not scaled the penalty with the data, the chapter's check would say so.
    assert not _chapter_10_penalty_check(alone, {**steps, "unscaled penalty": steps["scaled penalty"]})
    assert not _chapter_10_penalty_check(alone, {**steps, "mean per replica": _adam_first_step(n * data + penalty)})


def _chapter_10_clip_check(one_device, replicas, add_then_clip, clip_then_add):
    def gap(a, b):
        return np.abs(a - b).max() / np.abs(b).max()

    return (gap(one_device, add_then_clip) < 1e-4 and gap(replicas, clip_then_add) < 1e-4
            and gap(replicas, add_then_clip) > 0.1)


def test_chapter_10_clip_check_tells_clipping_per_replica_from_clipping_the_sum():
    import tensorflow as tf

    shares, _, model, flat = _cvae_gradients()

    def clip(gradients):
        return [tf.clip_by_norm(g, 1.0) for g in gradients]

    def add(first, second):
        return [a + b for a, b in zip(first, second)]

    add_then_clip = -1e-3 * flat(clip(add(*shares)))
    clip_then_add = -1e-3 * flat(add(*map(clip, shares)))
    # What Keras 3 does: each replica clips its own gradient, then the all-reduce adds them.
    assert _chapter_10_clip_check(add_then_clip, clip_then_add, add_then_clip, clip_then_add)
    # Were the sum clipped (one device's clipping), the check would fail.
    assert not _chapter_10_clip_check(add_then_clip, add_then_clip, add_then_clip, clip_then_add)


def _chapter_10_ragged_check(losses, shares):
    """Chapter 13's ragged-batch check: each replica divides its sum by its share times N."""
    pieces = np.split(losses, np.cumsum(shares)[:-1])
    n, mean = len(shares), losses.mean()
    by_own_share = sum(piece.sum() / (len(piece) * n) for piece in pieces)
    by_global_size = sum(piece.sum() / len(losses) for piece in pieces)
    return abs(by_own_share - mean) > 1e-3 * mean and abs(by_global_size - mean) < 1e-5 * mean


def test_chapter_10_ragged_check_needs_an_uneven_split():
    losses = np.arange(33, dtype=np.float64)
    assert _chapter_10_ragged_check(losses, [17, 16])
    assert not _chapter_10_ragged_check(np.arange(32, dtype=np.float64), [16, 16])


def _chapter_10_noise_check(book, fixed):
    shared = all(np.array_equal(e, book[0]) for e in book)
    own = [e.ravel() for e in fixed]
    distinct = min(np.abs(a - b).max() for k, a in enumerate(own) for b in own[k + 1:])
    return shared and distinct > 1e-3


def test_chapter_10_noise_check_tells_shared_draws_from_each_replicas_own():
    import tensorflow as tf

    seed = tf.constant([42, 0], tf.int32)

    def draw(replica):
        folded = tf.random.experimental.stateless_fold_in(seed, replica)
        return tf.random.stateless_normal((3, 2), seed=folded).numpy()

    shared = [tf.random.stateless_normal((3, 2), seed=seed).numpy()] * 2
    assert _chapter_10_noise_check(shared, [draw(0), draw(1)])
    assert not _chapter_10_noise_check(shared, [draw(0), draw(0)])  # a fix that folds in nothing
    assert not _chapter_10_noise_check([draw(0), draw(1)], [draw(0), draw(1)])


def _chapter_10_recorded_elbo_check(recorded, draws, replicas=1):
    """Chapter 13's checkpoint check: the test ELBO a checkpoint recorded (one draw per image, the
    same draw for `replicas` images at a time) against its weights' ELBO scored afresh, `draws` of
    shape (num_draws, num_images), within 4 standard errors (a bound, for replicas > 1)."""
    error = np.sqrt(draws.var(axis=0, ddof=1).mean() * (replicas + 1 / len(draws)) / draws.shape[1])
    return abs(recorded - draws.mean()) < 4 * error


def test_chapter_10_checkpoint_check_catches_a_record_one_epoch_off_its_weights():
    import keras
    import tensorflow as tf

    from vae_helpers import config, data, losses, models

    mnist = data.load_mnist("bundled")
    train = data.make_dataset(data.binarize_static(mnist.train_images[:256]), 32, "as_is", shuffle=False)
    test = tf.constant(data.binarize_static(mnist.test_images[:200]))
    config.set_seeds()
    model = models.CVAE(2, seed=config.SEED)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))

    def score(num_draws):
        return np.stack([losses.elbo_terms(model, test)["elbo"].numpy() for _ in range(num_draws)])

    model.fit(train, epochs=1, verbose=0, shuffle=False)
    first_epoch = score(1).mean()
    model.fit(train, epochs=1, verbose=0, shuffle=False)
    recorded, draws = score(1).mean(), score(8)
    assert _chapter_10_recorded_elbo_check(recorded, draws)
    # A checkpoint whose weights are an epoch past the ELBO it recorded.
    assert not _chapter_10_recorded_elbo_check(first_epoch, draws)
    # What the chapter checked before, the checkpoint's history against the history Keras
    # returned, compares one record with itself: it passes here too.


def _chapter_10_worker_check(checkpoint_weights, checkpoint_elbo, peer_weights, peer_elbo):
    """Chapter 13's two-worker check: the chief's checkpoint holds worker 1's final weights and
    logged ELBO."""
    return (len(checkpoint_weights) == len(peer_weights)
            and all(np.array_equal(a, b) for a, b in zip(checkpoint_weights, peer_weights))
            and np.allclose(checkpoint_elbo, peer_elbo, rtol=1e-6, atol=0))


def test_chapter_10_worker_check_catches_a_checkpoint_an_epoch_behind_or_of_another_run():
    rng = np.random.default_rng(4)
    weights = [rng.normal(size=(3, 3)), rng.normal(size=3)]
    elbo = [-300.0, -250.0]
    assert _chapter_10_worker_check(weights, elbo, weights, elbo)
    earlier = [w - 1e-3 * rng.normal(size=w.shape) for w in weights]
    assert not _chapter_10_worker_check(earlier, elbo[:1], weights, elbo)
    assert not _chapter_10_worker_check(earlier, elbo, weights, elbo)  # the history alone agrees
    # One process on the same batches ends within ~1e-5 of the workers: not bit for bit.
    assert not _chapter_10_worker_check([w * (1 + 1e-6) for w in weights], elbo, weights, elbo)


# Chapter 9 (curing collapse, the aggregate posterior, grey pixels). Each check is rerun on small
# cases: it passes on the right input and fails on a perturbed one.

def _chapter_9_binarisation_check(grey, logits, binarise, num_binarisations=200, seed=0):
    """Chapter 9's identity: the Bernoulli log-probability averaged over binarisations b ~ Bern(x)
    (Monte Carlo, `binarise(x, generator)` draws one b) is the cross-entropy of the grey x (scipy),
    each image within 4 standard errors. grey, logits: (N, 28, 28, 1)."""
    from vae_helpers import likelihoods

    x, eta = np.asarray(grey, np.float64), np.asarray(logits, np.float64)
    closed_form = np.sum(x * special.log_expit(eta) + (1 - x) * special.log_expit(-eta), axis=(1, 2, 3))
    generator = np.random.default_rng(seed)
    draws = np.stack([likelihoods.bernoulli(binarise(x, generator).astype(np.float32),
                                            logits.astype(np.float32)).numpy()
                      for _ in range(num_binarisations)])
    error = draws.std(axis=0, ddof=1) / np.sqrt(num_binarisations)
    return bool(np.all(np.abs(draws.mean(axis=0) - closed_form) < 4 * error))


def test_chapter_9_binarisation_check_holds_for_bernoulli_draws_and_fails_for_a_threshold():
    from vae_helpers import data

    grey = data.load_mnist("bundled").test_images[:8]
    logits = np.random.default_rng(5).normal(scale=3.0, size=grey.shape)
    assert _chapter_9_binarisation_check(grey, logits, lambda x, g: g.uniform(size=x.shape) < x)
    # A threshold is one fixed binarisation (and no error to hide behind); a draw with the
    # wrong probability, Bern(x^2), averages to another number.
    assert not _chapter_9_binarisation_check(grey, logits, lambda x, g: x > 0.5)
    assert not _chapter_9_binarisation_check(grey, logits, lambda x, g: g.uniform(size=x.shape) < x**2)


def _chapter_9_kl_bars_check(means, logvars, kl_bars, num_draws=4, seed=0):
    """Chapter 9's bar check: each dimension's KL (the bars) against log q(z_j|x) - log N(z_j; 0, 1)
    from scipy at `num_draws` draws z ~ q per image, within 4 standard errors + 1e-5 nats."""
    std = np.exp(logvars / 2)
    z = means + std * np.random.default_rng(seed).standard_normal((num_draws, *means.shape))
    terms = (stats.norm.logpdf(z, means, std) - stats.norm.logpdf(z)).reshape(-1, means.shape[1])
    error = terms.std(axis=0, ddof=1) / np.sqrt(len(terms))
    return bool(np.all(np.abs(terms.mean(axis=0) - kl_bars) < 4 * error + 1e-5))


def test_chapter_9_kl_bars_check_catches_a_kl_with_the_log_std_for_the_log_variance():
    from vae_helpers import losses

    rng = np.random.default_rng(6)
    means = rng.normal(scale=[1.5, 0.5, 0.05, 0.0], size=(500, 4))  # from active to collapsed
    logvars = rng.uniform(np.log([0.01, 0.1, 0.8, 1.0]), np.log([0.05, 0.3, 1.0, 1.0]), size=(500, 4))
    right = np.asarray(losses.analytic_kl_per_dimension(means, logvars)).mean(axis=0)
    assert _chapter_9_kl_bars_check(means, logvars, right)
    wrong = (0.5 * (np.exp(logvars / 2) + means**2 - 1 - logvars / 2)).mean(axis=0)
    assert not _chapter_9_kl_bars_check(means, logvars, wrong)
    # The old check compared the bars' sum with the table's rate, which was that sum.
    assert not _chapter_9_kl_bars_check(means, logvars, right[[1, 0, 2, 3]])


def _chapter_9_mass_check(log_density, means, logvars, half, num_per_axis=200):
    """Chapter 9's grid check: the mass of q in the coarse grid's cells with centres in [-2, 2]^2,
    summed on the grid (`log_density` of points (M, 2)), against scipy's normal cdf per component,
    within twice the sum's change when the cells are halved, plus 1e-4."""
    from vae_helpers import aggregate

    z, cell = aggregate.grid(-half, half, num_per_axis)
    coarse_z, coarse_cell = aggregate.grid(-half, half, num_per_axis // 2)
    edge = np.abs(coarse_z[np.all(np.abs(coarse_z) < 2, axis=1)]).max() + np.sqrt(coarse_cell) / 2
    std = np.exp(logvars / 2)
    exact = np.mean(np.prod(stats.norm.cdf((edge - means) / std) - stats.norm.cdf((-edge - means) / std), axis=1))

    def mass(points, area):
        return np.exp(log_density(points[np.all(np.abs(points) < edge, axis=1)])).sum() * area

    fine, coarse = mass(z, cell), mass(coarse_z, coarse_cell)
    return abs(fine - exact) < 2 * abs(fine - coarse) + 1e-4


def test_chapter_9_mass_check_catches_a_density_with_the_wrong_scale_or_place():
    from vae_helpers import aggregate

    rng = np.random.default_rng(7)
    means = rng.normal(scale=1.2, size=(300, 2))
    logvars = rng.uniform(np.log(0.01), np.log(0.1), size=(300, 2))
    half = float(np.ceil(np.max(np.abs(means) + 6 * np.exp(logvars / 2))))
    assert _chapter_9_mass_check(lambda z: aggregate.log_density(z, means, logvars), means, logvars, half)
    # Each still a normalised density in the box, so the old check (mass in the box = 1) passed.
    assert not _chapter_9_mass_check(lambda z: aggregate.log_density(z, means, logvars + 1.0),
                                     means, logvars, half)
    assert not _chapter_9_mass_check(lambda z: aggregate.log_density(z, 1.05 * means, logvars),
                                     means, logvars, half)


def _chapter_9_information_check(information, error, means, logvars, num_samples):
    """Chapter 9's check of I(x; z): an estimate with its standard error against
    `aggregate.information_from_responsibilities` (other draws, another formula), 4 joint errors."""
    from vae_helpers import aggregate

    other, other_error = aggregate.information_from_responsibilities(means, logvars, num_samples)
    return abs(information - other) < 4 * math.hypot(error, other_error)


def test_chapter_9_information_check_catches_a_log_q_given_x_of_the_wrong_component():
    from vae_helpers import aggregate

    rng = np.random.default_rng(8)
    means = rng.normal(size=(200, 2))
    logvars = rng.uniform(np.log(0.02), np.log(0.3), size=(200, 2))
    split = aggregate.rate_decomposition(means, logvars, 20_000)
    assert _chapter_9_information_check(split["mutual_information"], split["mutual_information_se"],
                                        means, logvars, 20_000)
    # log q(z|x_n) taken at a neighbouring component of the one z was drawn from.
    z, component = aggregate.sample(means, logvars, 20_000)
    shifted = (component + 1) % len(means)
    log_q_given_x = -0.5 * np.sum((z - means[shifted]) ** 2 * np.exp(-logvars[shifted])
                                  + logvars[shifted] + np.log(2 * np.pi), axis=1)
    terms = log_q_given_x - aggregate.log_density(z, means, logvars)
    assert not _chapter_9_information_check(terms.mean(), terms.std(ddof=1) / np.sqrt(len(terms)),
                                            means, logvars, 20_000)
    # What the chapter asserted before, 0 < I < log N, holds for any I in between.
    assert 0 < split["mutual_information"] < split["log_n"]


# Chapter 7 (evaluating log p(x)). Each check is a function of vae_helpers.evaluation, run here on
# small cases: it passes on the right input and fails on a perturbed one.

def _chapter_7_old_iwae_check(exact, estimate, margin=0.1):
    """What chapter 7 asserted before: the mean gap within 3 standard errors across images."""
    gaps = exact - estimate
    return abs(gaps.mean()) <= 3 * gaps.std(ddof=1) / np.sqrt(len(gaps)) + margin


def test_chapter_7_iwae_check_holds_per_image_and_catches_one_image_far_off():
    """IWAE_k of 16 linear-Gaussian 'images' (q the posterior, widened and shifted, so the
    weights have a finite variance) against the exact log p(x): every image within 3 of its own
    standard errors plus 0.1 nats, as chapter 7 asserts of its images with a large ESS, and on
    no image above log p(x) by more, as it asserts of all. A log p(x) 1,000 nats too high on one
    image fails the first, 1,000 nats too low the second; the across-image check the chapter
    made before passes both."""
    from vae_helpers import evaluation

    model = toy.LinearGaussian.random(seed=11, data_dim=6, latent_dim=2)
    x, _ = model.sample(16, seed=12)
    post_mean, post_cov = model.posterior(x)
    mean = post_mean + 0.2 * np.sqrt(np.diag(post_cov))
    logvar = np.log(np.broadcast_to(1.5 * np.diag(post_cov), mean.shape))
    found = bounds.importance_diagnostics(lambda z: model.log_joint(x, z), mean, logvar, 500, seed=13)
    estimate, error = found["iwae"].numpy(), found["standard_error"].numpy()
    assert np.all(found["ess"].numpy() >= 100)  # the chapter's MIN_ESS: these would be tested
    exact = model.log_marginal(x).numpy()
    assert len(evaluation.iwae_outliers(exact, estimate, error, margin=0.1)) == 0
    assert len(evaluation.iwae_outliers(exact, estimate, error, 0.1, bound_only=True)) == 0
    for shift, bound_only in ((1000.0, False), (-1000.0, True)):
        far = exact.copy()
        far[5] += shift
        assert list(evaluation.iwae_outliers(far, estimate, error, 0.1, bound_only=bound_only)) == [5]
        assert _chapter_7_old_iwae_check(far, estimate)
    # An image off by 10 standard errors, less than the across-image error, fails too.
    off = exact.copy()
    off[3] += 10 * error[3] + 0.1
    assert list(evaluation.iwae_outliers(off, estimate, error, margin=0.1)) == [3]
    assert _chapter_7_old_iwae_check(off, estimate)


def test_chapter_7_inference_gap_check_holds_and_catches_a_wrong_elbo_or_search(trained_2d, bundled):
    """Chapter 7's split, checked by evaluation.inference_gap_failures on 2 test digits: the
    approximation gap against KL(q* || p(z|x)) on a grid, the amortisation gap against minus the
    rules' errors, the encoder's ELBO against many draws. It passes as computed and fails for an
    ELBO of q* that is off by half a nat, for a search that ended below the encoder's q, and for
    an encoder ELBO that counts the KL term twice. (The identity the chapter asserted before,
    approximation + amortisation = log p(x) - encoder ELBO, holds for any of these.)"""
    from vae_helpers import data, evaluation, losses

    images = data.binarize_once(bundled.test_images[:2], "static")
    exact = evaluation.grid_log_marginal(trained_2d, images, num_per_axis=61)
    coarse = evaluation.grid_log_marginal(trained_2d, images, num_per_axis=41, outer_per_axis=41)
    gaps = evaluation.inference_gaps(trained_2d, images, exact, steps=60)
    q = gaps["optimal_mean"], gaps["optimal_logvar"]
    kl = evaluation.grid_kl_to_posterior(trained_2d, images, *q, exact)
    kl_coarse = evaluation.grid_kl_to_posterior(trained_2d, images, *q, exact, num_per_axis=61)
    draws, error = evaluation.monte_carlo_elbo(trained_2d, images, 2000)

    def failures(changed):
        return evaluation.inference_gap_failures(
            changed, kl, np.abs(kl - kl_coarse), np.max(np.abs(exact - coarse)), draws, error)

    assert failures(gaps) == []

    def with_elbos(optimal=0.0, encoder=0.0):
        changed = dict(gaps)
        changed["optimal_elbo"] = gaps["optimal_elbo"] + optimal
        changed["optimal_elbo_searched"] = gaps["optimal_elbo_searched"] + optimal
        changed["encoder_elbo"] = gaps["encoder_elbo"] + encoder
        changed["encoder_elbo_searched"] = gaps["encoder_elbo_searched"] + encoder
        changed["approximation_gap"] = exact - changed["optimal_elbo"]
        changed["amortisation_gap"] = changed["optimal_elbo"] - changed["encoder_elbo"]
        return changed

    assert any("grid KL" in f for f in failures(with_elbos(optimal=0.5)))
    # A search that ended below where it started: q*'s ELBO under the encoder's.
    below = gaps["encoder_elbo"] - gaps["optimal_elbo"] - 3.0
    assert any("amortisation" in f for f in failures(with_elbos(optimal=below)))
    kl_term = np.asarray(losses.analytic_kl(*trained_2d.encode(images)), np.float64)
    assert any("Monte Carlo" in f for f in failures(with_elbos(encoder=-kl_term)))


# Chapter 8 (β and collapse). The KL bars are checked against scipy's log-densities at draws of z,
# not against the sum they make (the old check: the bars against the rate they add up to).

def _chapter_8_kl_bars_check(means, logvars, kl_bars, seed=0):
    """Chapter 8's bar check: each dimension's KL against log q(z_j|x) - log N(z_j; 0, 1) from
    scipy at 4 draws z ~ q per image, within 4 standard errors + 1e-5 nats. means, logvars: (N, d)."""
    std = np.exp(logvars / 2)
    z = means + std * np.random.default_rng(seed).standard_normal((4, *std.shape))
    terms = (stats.norm.logpdf(z, means, std) - stats.norm.logpdf(z)).reshape(-1, means.shape[1])
    error = terms.std(axis=0, ddof=1) / np.sqrt(len(terms))
    return bool(np.all(np.abs(terms.mean(axis=0) - kl_bars) < 4 * error + 1e-5))


def _chapter_8_codes():
    rng = np.random.default_rng(81)
    # active; inactive with a shared mean offset; inactive with sigma away from 1; collapsed
    means = np.stack([rng.normal(scale=1.0, size=2000), 0.3 + rng.normal(scale=0.05, size=2000),
                      rng.normal(scale=0.05, size=2000), rng.normal(scale=0.02, size=2000)], axis=1)
    logvars = np.log(np.stack([rng.uniform(0.05, 0.2, 2000), np.full(2000, 0.98),
                               rng.uniform(0.3, 0.5, 2000), np.full(2000, 0.99)], axis=1))
    return means, logvars


def test_chapter_8_kl_bars_check_catches_a_kl_without_its_variance_part_or_permuted_bars():
    from vae_helpers import losses

    means, logvars = _chapter_8_codes()
    right = np.asarray(losses.analytic_kl_per_dimension(means, logvars)).mean(axis=0)
    assert _chapter_8_kl_bars_check(means, logvars, right)
    # The split the chapter tabulates adds up to the package's KL, dimension by dimension.
    offset, moving = 0.5 * means.mean(axis=0) ** 2, 0.5 * means.var(axis=0)
    variance = 0.5 * np.mean(np.exp(logvars) - 1 - logvars, axis=0)
    assert np.allclose(offset + moving + variance, right, rtol=1e-6, atol=1e-9)
    assert not _chapter_8_kl_bars_check(means, logvars, offset + moving)  # the means' part only
    assert not _chapter_8_kl_bars_check(means, logvars, right[[0, 2, 1, 3]])
    # The old check, the bars' sum against the rate they sum to, passes permuted bars.
    assert math.isclose(right[[0, 2, 1, 3]].sum(), right.sum())


def test_chapter_8_units_inactive_by_their_means_need_not_be_collapsed_by_their_kl():
    """What the chapter's unit table counts: the activity test (Var_x mu_j > 0.01) and collapse
    (KL_j < 0.01 nats) disagree on units 1 (a mean offset) and 2 (sigma away from 1)."""
    from vae_helpers import losses

    means, logvars = _chapter_8_codes()
    kl = np.asarray(losses.analytic_kl_per_dimension(means, logvars)).mean(axis=0)
    assert list(means.var(axis=0) > 0.01) == [True, False, False, False]
    assert list(kl < 0.01) == [False, False, False, True]


# Chapter 6, review of issue 22: the share of prior draws shorter than a typical midpoint.

def _chapter_6_short_share_check(draws, share):
    """Chapter 6's check: the share of draws (N, 16) with squared norm below d/2 = 8 against
    `share` (the chapter's chi-squared cdf), within 4 binomial standard errors."""
    counted = np.mean(np.sum(draws**2, axis=1) < 8)
    return abs(counted - share) < 4 * np.sqrt(share * (1 - share) / len(draws))


def test_chapter_6_short_share_check_catches_the_wrong_degrees_of_freedom_or_the_norm():
    draws = np.random.default_rng(0).normal(size=(10_000, 16))
    assert _chapter_6_short_share_check(draws, stats.chi2.cdf(8, 16))
    assert not _chapter_6_short_share_check(draws, stats.chi2.cdf(8, 15))
    assert not _chapter_6_short_share_check(draws, stats.chi2.cdf(8**2, 16))  # the norm for its square
    assert not _chapter_6_short_share_check(0.9 * draws, stats.chi2.cdf(8, 16))  # not prior draws


# Chapter 2, review of issue 22: the bound checked near the posterior, and the score function
# with a baseline.

def _chapter_2_bound_check(elbo, model, x, num_random=1000, seed=7):
    """Chapter 2's bound check: `elbo(x, mean, logvar)` (batch,) below the exact log p(x) for
    random q and for q near the posterior (off by 1e-3 to 1), with at least 10 ELBOs within 1e-3
    nats. Returns (passes, passes on the random q alone)."""
    rng = np.random.default_rng(seed)
    log_px = model.log_marginal(x).numpy()[0]
    xs = np.repeat(x, num_random, axis=0)
    random_gaps = log_px - elbo(xs, rng.normal(scale=2.0, size=(num_random, 3)),
                                rng.uniform(-4, 2, size=(num_random, 3)))
    mean, cov = model.posterior(x)
    scales = np.logspace(-3, 0, num_random)[:, None]
    near_gaps = log_px - elbo(xs, mean + scales * rng.normal(size=(num_random, 3)) * np.sqrt(np.diag(cov)),
                              np.log(np.diag(cov)) + scales * rng.normal(size=(num_random, 3)))
    gaps = np.concatenate([random_gaps, near_gaps])
    return bool(np.all(gaps >= 0) and np.sum(gaps < 1e-3) >= 10), bool(np.all(random_gaps >= 0))


def test_chapter_2_bound_check_catches_an_elbo_a_hundredth_of_a_nat_too_high():
    model = toy.LinearGaussian.random(seed=5, data_dim=6, latent_dim=3, noise_std=0.5, orthogonal=True)
    x, _ = model.sample(1, seed=6)

    def exact(*args):
        return model.exact_elbo(*args).numpy()

    assert _chapter_2_bound_check(exact, model, x) == (True, True)
    # A bug that raises every ELBO by 0.01 nats: random q alone (3.5 nats below) pass it.
    assert _chapter_2_bound_check(lambda *args: exact(*args) + 0.01, model, x) == (False, True)


def _chapter_2_gradients(num_gradients=4000, seed=5):
    """Per-draw gradients wrt q's mean on the chapter's linear-Gaussian model, in numpy: the
    reparameterised one (grad_z log p(x, z); log q(mu + sigma eps) does not depend on mu), the
    score function f (z - mu) / sigma^2, and the same with the leave-one-out mean of f subtracted."""
    model = toy.LinearGaussian.random(seed=42, data_dim=6, latent_dim=2, noise_std=0.5)
    x, _ = model.sample(1, seed=1)
    mean, std = np.array([0.3, -0.2]), np.exp(0.5 * np.array([-1.0, -0.5]))
    z = mean + std * np.random.default_rng(seed).normal(size=(num_gradients, 2))
    w, b, s = model.weights, model.bias, model.noise_std
    reparameterised = (x[0] - z @ w.T - b) @ w / s**2 - z
    f = (stats.multivariate_normal.logpdf(z @ w.T + b - x[0], cov=s**2 * np.eye(6))
         + stats.norm.logpdf(z).sum(axis=1) - stats.norm.logpdf(z, mean, std).sum(axis=1))
    score_of_q = (z - mean) / std**2
    leave_one_out = (f.sum() - f) / (num_gradients - 1)
    return reparameterised, f[:, None] * score_of_q, (f - leave_one_out)[:, None] * score_of_q


def _chapter_2_variance_check(reparameterised, score, baselined, floor=2):
    ratios = [grads.var(axis=0).mean() / reparameterised.var(axis=0).mean() for grads in (score, baselined)]
    return min(ratios) > floor


def test_chapter_2_variance_check_holds_with_the_baseline_and_fails_where_the_old_floor_did():
    reparameterised, score, baselined = _chapter_2_gradients()
    assert _chapter_2_variance_check(reparameterised, score, baselined)
    # All three estimate one gradient: their means agree within 5 standard errors.
    for grads in (score, baselined):
        error = np.hypot(grads.std(axis=0), reparameterised.std(axis=0)) / np.sqrt(len(grads))
        assert np.all(np.abs(grads.mean(axis=0) - reparameterised.mean(axis=0)) < 5 * error)
    # The old floor of 5 held for the plain score function only; the baseline breaks it.
    assert score.var(axis=0).mean() / reparameterised.var(axis=0).mean() > 5
    assert not _chapter_2_variance_check(reparameterised, score, baselined, floor=5)
    # A "reparameterised" gradient that is the score function in disguise fails.
    assert not _chapter_2_variance_check(baselined, score, baselined)


# Chapter 4, review of issue 22: both one-draw ELBO estimates on chapter 2's exact model.

def _chapter_4_toy_estimates(kl_logvar_scale=1.0, num_draws=100_000):
    """Chapter 4's cell: the one-draw ELBO with the Monte Carlo KL and with the analytic KL (its
    log-variance scaled by `kl_logvar_scale`, 1 when right), on the same z. Returns both (n,) and
    the exact ELBO."""
    from vae_helpers import losses

    model = toy.LinearGaussian.random(seed=42, data_dim=6, latent_dim=2, noise_std=0.5)
    x, _ = model.sample(1, seed=1)
    mean, logvar = np.array([[0.3, -0.2]]), np.array([[-1.0, -0.5]])
    z = bounds.sample_q(mean, logvar, num_draws, seed=3)
    log_q = losses.log_normal_pdf(z, mean, logvar, raxis=-1)
    monte_carlo = (model.log_joint(x, z) - log_q).numpy()[:, 0]
    analytic = (model.log_likelihood(x, z).numpy()[:, 0]
                - losses.analytic_kl(mean, kl_logvar_scale * logvar).numpy()[0])
    return monte_carlo, analytic, model.exact_elbo(x, mean, logvar).numpy()[0]


def _chapter_4_toy_check(values, exact):
    return abs(values.mean() - exact) < 4 * values.std() / np.sqrt(len(values))


def test_chapter_4_toy_check_catches_an_analytic_kl_of_the_log_std():
    monte_carlo, analytic, exact = _chapter_4_toy_estimates()
    assert _chapter_4_toy_check(monte_carlo, exact) and _chapter_4_toy_check(analytic, exact)
    # Measured as the chapter glues it: the analytic form spreads more on this model.
    assert analytic.std() > monte_carlo.std()
    # log sigma for log sigma^2 shifts the ELBO by 0.17 nats: beyond 4 standard errors at the
    # full mode's 1,000,000 draws (quick mode's 100,000 would not see it).
    _, wrong, exact = _chapter_4_toy_estimates(kl_logvar_scale=0.5, num_draws=1_000_000)
    assert not _chapter_4_toy_check(wrong, exact)


# Chapter 3, review of issue 22: the std of reparameterised draws within 5 standard errors.

def _chapter_3_std_check(z, target=2.0):
    """Chapter 3's check: each column's std of z (n, d) within 5 * target / sqrt(2n) of target."""
    return bool(np.all(np.abs(z.std(axis=0) - target) < 5 * target / np.sqrt(2 * len(z))))


def test_chapter_3_std_check_catches_a_std_2_percent_off_that_the_old_tolerance_passed():
    eps = np.random.default_rng(3).standard_normal((100_000, 2))  # full mode's draws
    assert _chapter_3_std_check(1.0 + 2.0 * eps)
    assert not _chapter_3_std_check(1.0 + 2.04 * eps)
    assert np.all(np.abs((2.04 * eps).std(axis=0) - 2.0) < 0.05)  # the old check passed it
    assert not _chapter_3_std_check(1.0 + np.exp(np.log(4.0)) * eps)  # exp(logvar) for the std


# Chapters 7 and 8, graded exercises (issue 23). Each coding exercise's visible check (the cell
# after its hidden solution) passes the book's solution, says "Not done yet" to the untouched
# starter, holds no line of the solution, and rejects every wrong answer that
# tests/wrong_answers/chNN.py lists (an assert fails). The checks run as the chapter runs them,
# on stand-ins for the trained models where they use one.

def _exercise_code(chapter, label):
    """(starter, solution, check): the sources of a coding exercise's three code cells."""
    import pathlib

    import nbformat

    path = pathlib.Path(__file__).resolve().parents[1] / "notebooks" / f"{chapter}.ipynb"
    notebook = nbformat.read(path, as_version=4)
    start = next(i for i, cell in enumerate(notebook.cells)
                 if cell.cell_type == "markdown" and f":label: {label}\n" in cell.source)
    cells = []
    for cell in notebook.cells[start + 1:]:
        tags = cell.metadata.get("tags", [])
        if "exercise-section" not in tags or cell.source.startswith("```{exercise}"):
            break
        if cell.cell_type == "code" and "grading" not in tags:
            cells.append(cell.source)
    assert len(cells) == 3, f"{label}: starter, solution and check, not {len(cells)} code cells"
    return tuple(cells)


def _run_exercise_check(check, definition, names):
    """What the check cell prints after `definition` ran, in a namespace holding `names`."""
    import contextlib
    import io

    namespace = {"np": np, **names}
    exec(definition, namespace)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(check, namespace)
    return printed.getvalue()


def _check_rejects_every_wrong_answer(chapter, label, names):
    """Chapter `chapter`'s exercise `label`: its check passes the solution, says "Not done yet" to the
    starter, holds no line of the solution, and fails on every wrong answer of its chNN.py."""
    import pytest

    starter, solution, check = _exercise_code(chapter, label)
    assert "Correct." in _run_exercise_check(check, solution, names())
    assert "Not done yet" in _run_exercise_check(check, starter, names())
    body = solution.split('"""')[-1].strip().splitlines()  # what the student writes
    for line in filter(str.strip, body):
        assert line.strip() not in check, f"{label}: the check holds the solution's {line!r}"
    wrong = _wrong_answers(chapter)[label]
    assert len(wrong) >= 4
    for what, definition in wrong.items():
        with pytest.raises(AssertionError):
            _run_exercise_check(check, definition, names())
            print(what)  # reached only if the check passed it


def test_chapter_7_exercise_checks_reject_every_wrong_answer():
    for label in ("ex-eval-iwae", "ex-eval-se"):
        _check_rejects_every_wrong_answer("07_evaluation", label, dict)


def _chapter_8_exercise_names():
    """Stand-ins for what chapter 8's exercise checks read: the sweep's largest-β model (its
    encode gives fixed means: 6 units that move, 4 of variance .0049 and 6 that barely move), the
    test images, the sweep's rows of per-image terms and the figure's points."""
    from types import SimpleNamespace

    rng = np.random.default_rng(11)
    scales = np.concatenate([np.full(6, 1.0), np.full(4, 0.07), np.full(6, 1e-3)])
    means = (rng.normal(size=(200, 16)) * scales).astype(np.float32)
    model = SimpleNamespace(encode=lambda x: (means, None))
    betas = [0.25, 1.0, 4.0, 16.0]
    rows = []
    for beta in betas:
        terms = {"rate": rng.uniform(0, 30 / beta, 50), "distortion": rng.uniform(60, 120, 50)}
        rows.append({"beta": beta, "terms": terms,
                     "elbo": -(terms["rate"] + terms["distortion"])})
    return {"sweep": {beta: SimpleNamespace(model=model) for beta in betas}, "betas": betas,
            "test_x": None, "rows": rows,
            "rates": [row["terms"]["rate"].mean() for row in rows],
            "distortions": [row["terms"]["distortion"].mean() for row in rows]}


def test_chapter_8_exercise_checks_reject_every_wrong_answer():
    for label in ("ex-beta-active", "ex-beta-rd"):
        _check_rejects_every_wrong_answer("08_beta_and_collapse", label,
                                          _chapter_8_exercise_names)


# Chapters 2-4, graded exercises (issue 23): each coding exercise's visible check says "Not done
# yet" to the untouched starter, "Correct." to the book's solution, and fails (AssertionError) on
# every wrong answer of tests/wrong_answers/chNN.py, so that a check that can no longer fail, or
# that lets a wrong answer through, shows up here.

def _exercise_cells(name):
    """{label: (starter, solution, check)}: the sources of chapter `name`'s coding exercises."""
    import pathlib
    import sys

    import nbformat

    root = pathlib.Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "tools"))
    import assignments  # noqa: E402  (tools/ is not a package)
    import student_edition  # noqa: E402

    notebook = nbformat.read(root / "notebooks" / f"{name}.ipynb", as_version=4)
    found = {}
    for label, indices in assignments.exercises(notebook):
        code = [notebook.cells[i] for i in indices if notebook.cells[i].cell_type == "code"
                and not student_edition.is_grading(notebook.cells[i])]
        solutions = [i for i, cell in enumerate(code) if student_edition.is_solution(cell)]
        if solutions:
            at = solutions[0]
            found[label] = (code[0].source, code[at].source, code[at + 1].source)
    return found


def _run_check(definition, check):
    """The check cell's printed output after `definition` ran; raises what the check raises."""
    import contextlib
    import io

    import tensorflow as tf

    environment = {"np": np, "tf": tf, "stats": stats, "special": special}
    exec(definition, environment)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), np.errstate(all="ignore"):
        exec(check, environment)
    return printed.getvalue()


def _wrong_answers(name):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent / "wrong_answers" / f"ch{name[:2]}.py"
    spec = importlib.util.spec_from_file_location(f"wrong_{name[:2]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


import pytest  # noqa: E402


@pytest.mark.parametrize("name", ["02_elbo", "03_vae_model", "04_vae_loss"])
def test_chapters_2_to_4_exercise_checks_reject_every_wrong_answer(name):
    cells, wrong = _exercise_cells(name), _wrong_answers(name)
    assert set(cells) == set(wrong)
    for label, (starter, solution, check) in cells.items():
        assert "Not done yet" in _run_check(starter, check), label
        assert "Correct." in _run_check(solution, check), label
        for what, definition in wrong[label].items():
            with pytest.raises(AssertionError):
                _run_check(definition, check)
                print(f"{label}: the check passed {what!r}")


def test_chapter_3_parameter_check_hashes_keras_counts():
    # The check compares a hash (so as not to show the counts); the solution it accepts must be
    # Keras' count of the book's encoder's last layer.
    from vae_helpers import models

    environment = {}
    exec(_exercise_cells("03_vae_model")["ex-model-params"][1], environment)
    for latent_dim in (2, 3, 16):
        count = models.make_encoder(latent_dim).layers[-1].count_params()
        assert environment["dense_parameters"](latent_dim) == count


# Chapters 5 and 6, graded exercises (issue 23). Each coding exercise's visible check (the cell
# after its hidden solution) passes the book's solution, says "Not done yet" to the untouched
# starter, holds no line of the solution, and rejects every wrong answer that
# tests/wrong_answers/ch05.py and ch06.py list (an assert fails). Chapter 6's share of prior draws
# beyond the figure's edge (issue 22) is checked against draws and fails for a one-sided tail.

def _chapter_5_names():
    import types

    import keras
    import tensorflow as tf

    from vae_helpers import config, models

    # The check of ex-train-gap ends by running the answer on run_16's history.
    run_16 = types.SimpleNamespace(history={"elbo": [-100.0, -90.0], "val_elbo": [-101.0, -95.0]})
    return {"tf": tf, "keras": keras, "models": models, "config": config, "run_16": run_16}


def test_chapter_5_exercise_checks_reject_every_wrong_answer():
    for label in ("ex-train-gap", "ex-train-step"):
        _check_rejects_every_wrong_answer("05_training", label, _chapter_5_names)


def test_chapter_6_exercise_checks_reject_every_wrong_answer():
    for label in ("ex-latent-quantiles", "ex-latent-slerp"):
        _check_rejects_every_wrong_answer("06_latent_space", label, lambda: {"stats": stats})


def _chapter_6_beyond_check(prior_beyond, edge=3.0, num_draws=400_000):
    """Chapter 6's check: the share of prior draws (2-D) beyond +-edge on either axis against
    `prior_beyond`, within 4 binomial standard errors."""
    draws = np.random.default_rng(0).normal(size=(num_draws, 2))
    counted = np.mean(np.any(np.abs(draws) > edge, axis=1))
    return abs(counted - prior_beyond) < 4 * np.sqrt(prior_beyond * (1 - prior_beyond) / num_draws)


def test_chapter_6_beyond_check_catches_one_tail_or_one_axis():
    assert _chapter_6_beyond_check(1 - (1 - 2 * stats.norm.sf(3.0)) ** 2)
    assert not _chapter_6_beyond_check(1 - (1 - stats.norm.sf(3.0)) ** 2)  # one tail
    assert not _chapter_6_beyond_check(2 * stats.norm.sf(3.0))  # one axis


# Chapter 10, graded exercise ex-aggregate-log-density (issue 23): its visible check passes the
# book's solution, says "Not done yet" to the starter, holds no line of the solution, and rejects
# every wrong answer of tests/wrong_answers/ch10.py (the log of a plain sum, no - log N, the std
# for the variance, the wrong axis, no log 2 pi, ...). It runs on stand-ins for the chapter's
# training codes of the 2-D model (narrow posteriors) and its prior draws.

def _chapter_10_exercise_names():
    rng = np.random.default_rng(10)
    return {"stats": stats, "special": special,
            "means": rng.normal(size=(600, 2)), "logvars": rng.uniform(-6.0, -1.0, (600, 2)),
            "z_prior": rng.normal(size=(1000, 2))}


def test_chapter_10_exercise_check_rejects_every_wrong_answer():
    with np.errstate(all="ignore"):  # the plain sum's log(0)
        _check_rejects_every_wrong_answer("10_aggregate_posterior", "ex-aggregate-log-density",
                                          _chapter_10_exercise_names)


# Chapter 11 (grey pixels), graded exercise (issue 23). The visible check of ex-cb-mean (the
# continuous Bernoulli's mean against scipy quadrature, logits from -800 to 800 with 0 and +-1e-6)
# passes the solution, says "Not done yet" to the starter, holds no line of the solution, and
# rejects every wrong answer of tests/wrong_answers/ch11.py (lambda, NaN at 0, lambda rounding to
# 0 or 1 at large |eta|, a sign slip, artanh(2 lambda - 1), float32, ...).

def test_chapter_11_exercise_check_rejects_every_wrong_answer():
    from scipy import integrate

    with np.errstate(all="ignore"):  # the wrong answers' 0 / 0 and exp(800)
        _check_rejects_every_wrong_answer("11_grey_pixels", "ex-cb-mean",
                                          lambda: {"integrate": integrate, "special": special})
