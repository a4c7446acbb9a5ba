"""The aggregate posterior q(z) = (1/N) sum_n q(z|x_n) of a trained encoder, chapter 10.

q(z|x_n) = N(mean_n, diag(exp(logvar_n))) are the encoder's posteriors for N images, so q(z) is
a mixture of N Gaussians whose density is exact (a log-sum-exp over the N components). With it:

- its density on a grid beside the prior's, and the "holes" where p(z) has mass and q(z) little;
- the rate decomposition (Hoffman & Johnson, 2016): the average rate
  R = (1/N) sum_n KL(q(z|x_n) || p(z)) = I(x; z) + KL(q(z) || p(z)), where x is uniform over
  the N images and z ~ q(z|x), so that I(x; z) <= log N.

All arrays are float64 numpy; means and logvars have shape (N, latent_dim). The prior is N(0, I)
unless a model's own is given (`prior=model.prior_log_prob`, the contract of `models.base`).
"""

import math

import numpy as np
from scipy.special import logsumexp

from vae_helpers import config, latent, losses

ENTRIES_PER_CHUNK = 4_000_000
"""Points times components evaluated at once, so memory stays near 32 MB."""


def log_prior(z):
    """log N(z; 0, I) for z (M, latent_dim) -> (M,)."""
    z = _check_finite("z", z)
    return _log_normal(z, 0.0, 0.0)


def log_gaussians(z, means, logvars):
    """log N(z_m; mean_n, diag(exp(logvar_n))) for every point and component: (M, N).

    Args:
      z: (M, latent_dim) points.
      means, logvars: (N, latent_dim) components.
    """
    z, means, logvars = (_check_finite(name, a) for name, a in (("z", z), ("means", means), ("logvars", logvars)))
    precision = np.exp(-logvars)
    # Expanding -(z - mean)^2 * precision / 2 turns the (M, N, latent_dim) difference into
    # one matrix product over latent_dim.
    quadratic = (z**2) @ (-0.5 * precision).T + z @ (means * precision).T
    constant = np.sum(-0.5 * (means**2 * precision + logvars + losses.LOG_2PI), axis=1)
    return quadratic + constant


def log_density(z, means, logvars):
    """log q(z) = log (1/N) sum_n N(z; mean_n, exp(logvar_n)) for z (M, latent_dim) -> (M,)."""
    z = _check_points(z, means, logvars)
    chunk = max(1, ENTRIES_PER_CHUNK // len(means))
    return np.concatenate([
        logsumexp(log_gaussians(z[i : i + chunk], means, logvars), axis=1)
        for i in range(0, len(z), chunk)
    ]) - math.log(len(means))


def sample(means, logvars, num_samples, seed=config.SEED):
    """Draws z ~ q(z): a uniformly chosen component, then a Gaussian draw from it.

    Returns:
      z (num_samples, latent_dim) and the component of each draw (num_samples,), int.
    """
    means, logvars = _check_components(means, logvars)
    num_samples = config.positive_int("num_samples", num_samples)
    generator = np.random.default_rng(seed)
    component = generator.integers(len(means), size=num_samples)
    noise = generator.standard_normal((num_samples, means.shape[1]))
    return means[component] + np.exp(0.5 * logvars[component]) * noise, component


def rate_decomposition(means, logvars, num_samples, seed=config.SEED, prior=log_prior):
    """R = I(x; z) + KL(q(z) || p(z)), each term estimated by Monte Carlo from q(x, z).

    Draws (n, z) with n uniform over the N images and z ~ q(z|x_n), then averages
      log q(z) - log p(z)        for KL(q(z) || p(z)),
      log q(z|x_n) - log q(z)    for I(x; z),
    with log q(z) exact (`log_density`). R itself is the closed-form average KL against N(0, I);
    against another prior, the average of log q(z|x_n) - log p(z) over the same draws.

    Args:
      means, logvars: (N, latent_dim), the encoder's q(z|x_n).
      num_samples: int >= 2, draws of (n, z) (a standard error needs two).
      prior: log p(z), z (M, latent_dim) -> (M,): `log_prior`, or a model's `prior_log_prob`.
    Returns:
      Dict of floats, nats: "rate" (closed form), "kl_aggregate" and "mutual_information" with
      their standard errors "kl_aggregate_se" and "mutual_information_se" (of the mean of
      num_samples independent draws), and "log_n", the bound log N on I.
    """
    means, logvars = _check_components(means, logvars)
    num_samples = config.positive_int("num_samples", num_samples, minimum=2)
    z, component = sample(means, logvars, num_samples, seed)
    log_q = log_density(z, means, logvars)
    log_q_given_x = _log_normal(z, means[component], logvars[component])
    log_p = _log_prior(prior, z)
    kl_terms = log_q - log_p
    information_terms = log_q_given_x - log_q
    if prior is log_prior:
        rate = float(np.asarray(losses.analytic_kl(means, logvars), np.float64).mean())
    else:
        rate = float(np.mean(log_q_given_x - log_p))
    return {
        "rate": rate,
        "kl_aggregate": float(kl_terms.mean()),
        "kl_aggregate_se": _standard_error(kl_terms),
        "mutual_information": float(information_terms.mean()),
        "mutual_information_se": _standard_error(information_terms),
        "log_n": math.log(len(means)),
    }


def information_from_responsibilities(means, logvars, num_samples, seed=config.SEED + 1):
    """I(x; z) = log N - E_{z ~ q(z)}[H(n | z)], a second estimate that shares no draws (by
    default) or formula with `rate_decomposition`'s.

    Given z, the image it came from has the posterior r_n(z) = q(z|x_n) / (N q(z)) over the N
    images (the components' responsibilities); its entropy H(n | z) is computed exactly for each
    draw z ~ q(z), so only z is sampled, not the component whose log-ratio is averaged.

    Args:
      means, logvars: (N, latent_dim), the encoder's q(z|x_n).
      num_samples: int >= 2, draws of z ~ q(z).
    Returns:
      (information, standard_error): floats, nats.
    """
    means, logvars = _check_components(means, logvars)
    num_samples = config.positive_int("num_samples", num_samples, minimum=2)
    z, _ = sample(means, logvars, num_samples, seed)
    chunk = max(1, ENTRIES_PER_CHUNK // len(means))
    entropies = []
    for i in range(0, len(z), chunk):
        log_components = log_gaussians(z[i : i + chunk], means, logvars)  # (chunk, N)
        log_r = log_components - logsumexp(log_components, axis=1, keepdims=True)
        entropies.append(-np.sum(np.exp(log_r) * log_r, axis=1))
    terms = math.log(len(means)) - np.concatenate(entropies)
    return float(terms.mean()), _standard_error(terms)


def grid(low, high, num_per_axis):
    """Midpoints of a num_per_axis x num_per_axis grid over the square [low, high]^2.

    Returns:
      z (num_per_axis^2, 2), row-major (the first coordinate varies fastest), and the area of
      one cell.
    """
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise ValueError(f"the grid needs finite low < high; got low={low!r}, high={high!r}.")
    z, widths = latent.midpoint_grid(low, high, num_per_axis)
    return z, float(widths[0] * widths[1])


def grid_kl(means, logvars, low, high, num_per_axis, prior=log_prior):
    """KL(q(z) || p(z)) of a 2-D q by the midpoint rule on [low, high]^2, and the mass of q there.

    Independent of `rate_decomposition`'s sampling: it integrates q (log q - log p) over cells,
    so its error is the rule's (compare two values of num_per_axis) plus the mass outside the
    square. `prior`: as for `rate_decomposition`.

    Returns:
      (kl, mass): floats; mass is the integral of q over the square, 1 when it holds all of q.
    """
    means, logvars = _check_components(means, logvars)
    if means.shape[1] != 2:
        raise ValueError(
            f"grid_kl integrates over a 2-D latent space; got latent_dim = {means.shape[1]}. "
            "Use rate_decomposition's Monte Carlo estimate instead."
        )
    z, cell = grid(low, high, num_per_axis)
    log_q = log_density(z, means, logvars)
    q = np.exp(log_q)
    return float(np.sum(q * (log_q - _log_prior(prior, z))) * cell), float(np.sum(q) * cell)


def density_ratio(z, means, logvars, prior=log_prior):
    """log q(z) - log p(z) at points z (M, latent_dim) -> (M,): below 0 where q is thinner than
    the prior; very negative in a hole. `prior`: as for `rate_decomposition`."""
    return log_density(z, means, logvars) - _log_prior(prior, z)


def _log_prior(prior, z):
    """`prior` at z (M, latent_dim) as float64 (M,): a model's prior_log_prob returns a tensor."""
    return np.asarray(prior(z), np.float64)


def _log_normal(z, means, logvars):
    """`losses.log_normal_pdf` on float64 arrays: (M, latent_dim) -> (M,), float64."""
    return np.asarray(losses.log_normal_pdf(z, means, logvars, raxis=-1), np.float64)


def _standard_error(values):
    return float(np.std(values, ddof=1) / math.sqrt(len(values)))


def _check_finite(name, values):
    """`values` as float64, or a ValueError if any is NaN or infinite (they would pass through
    every log-sum-exp here and come out as a NaN or an infinite number of nats)."""
    values = np.asarray(values, np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{name} holds {int(np.sum(~np.isfinite(values)))} NaN or infinite values: "
            "check the encoder's outputs (latent.encode) or how they were computed."
        )
    return values


def _check_components(means, logvars):
    means, logvars = _check_finite("means", means), _check_finite("logvars", logvars)
    if means.ndim != 2 or means.shape != logvars.shape or len(means) == 0:
        raise ValueError(
            "means and logvars must both have shape (N, latent_dim) with N >= 1 "
            f"(e.g. from latent.encode); got {means.shape} and {logvars.shape}."
        )
    return means, logvars


def _check_points(z, means, logvars):
    means, _ = _check_components(means, logvars)
    z = _check_finite("z", z)
    if z.ndim != 2 or z.shape[1] != means.shape[1]:
        raise ValueError(
            f"z must have shape (M, {means.shape[1]}) to match the components; got {z.shape}."
        )
    return z
