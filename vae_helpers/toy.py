"""Latent-variable models whose log p(x) is known exactly, for checking the maths of chapters 1-2.

* `LinearGaussian`: p(z) = N(0, I), p(x|z) = N(W z + b, noise_std^2 I); everything in closed form.
* `TinyBernoulliDecoder`: a fixed nonlinear decoder from a 1-D or 2-D z onto a few binary pixels;
  log p(x) by quadrature on a grid.

All computations are float64: these models exist to check other code to many digits.
"""

import math

import numpy as np
import tensorflow as tf

from vae_helpers import losses

DTYPE = tf.float64


class LinearGaussian:
    """p(z) = N(0, I_d), p(x|z) = N(W z + b, noise_std^2 I_D).

    Args:
      weights: (D, d) array W.
      bias: (D,) array b.
      noise_std: positive float.
    """

    def __init__(self, weights, bias, noise_std):
        self.weights = np.asarray(weights, np.float64)
        self.bias = np.asarray(bias, np.float64)
        if self.weights.ndim != 2 or self.bias.shape != self.weights.shape[:1]:
            raise ValueError(f"weights must be (D, d) and bias (D,); got {self.weights.shape} and {self.bias.shape}.")
        if not noise_std > 0:
            raise ValueError(f"noise_std must be positive; got {noise_std!r}.")
        self.noise_std = float(noise_std)
        self.data_dim, self.latent_dim = self.weights.shape

    @classmethod
    def random(cls, seed, data_dim, latent_dim, noise_std=0.5, orthogonal=False):
        """A model with random weights. `orthogonal` makes W's columns orthogonal, so that the exact
        posterior has a diagonal covariance (and a diagonal-Gaussian q can equal it)."""
        rng = np.random.default_rng(seed)
        weights = rng.normal(size=(data_dim, latent_dim))
        if orthogonal:
            basis, _ = np.linalg.qr(weights)
            weights = basis * rng.uniform(0.5, 2.0, size=latent_dim)
        return cls(weights, rng.normal(size=data_dim), noise_std)

    def sample(self, num_samples, seed):
        """Returns x (num_samples, D) and the z (num_samples, d) that generated it."""
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(num_samples, self.latent_dim))
        x = z @ self.weights.T + self.bias + self.noise_std * rng.normal(size=(num_samples, self.data_dim))
        return x, z

    def log_likelihood(self, x, z):
        """log p(x|z). x: (batch, D); z: (..., batch, d) -> (..., batch)."""
        mean = tf.linalg.matvec(self.weights, tf.cast(z, DTYPE)) + self.bias
        return losses.log_normal_pdf(tf.cast(x, DTYPE), mean, 2.0 * math.log(self.noise_std), raxis=-1)

    def log_joint(self, x, z):
        """log p(x, z) = log p(x|z) + log p(z). Shapes as `log_likelihood`."""
        return self.log_likelihood(x, z) + losses.log_normal_pdf(tf.cast(z, DTYPE), 0.0, 0.0, raxis=-1)

    def log_marginal(self, x):
        """Exact log p(x): x ~ N(b, W W^T + noise_std^2 I). x: (batch, D) -> (batch,)."""
        covariance = self.weights @ self.weights.T + self.noise_std**2 * np.eye(self.data_dim)
        cholesky = tf.linalg.cholesky(tf.constant(covariance, DTYPE))
        residual = tf.cast(x, DTYPE) - self.bias
        whitened = tf.linalg.triangular_solve(cholesky, tf.transpose(residual), lower=True)
        log_det = 2.0 * tf.reduce_sum(tf.math.log(tf.linalg.diag_part(cholesky)))
        return -0.5 * (tf.reduce_sum(whitened**2, axis=0) + log_det + self.data_dim * losses.LOG_2PI)

    def posterior(self, x):
        """The exact posterior p(z|x) = N(mean, covariance).

        Returns:
          mean (batch, d) and covariance (d, d) (the same for every x).
        """
        precision = np.eye(self.latent_dim) + self.weights.T @ self.weights / self.noise_std**2
        covariance = np.linalg.inv(precision)
        mean = (np.asarray(x, np.float64) - self.bias) @ self.weights @ covariance.T / self.noise_std**2
        return mean, covariance

    def exact_elbo(self, x, mean, logvar):
        """The ELBO of q = N(mean, diag(exp(logvar))) in closed form, no sampling.

        E_q[log p(x|z)] = log N(x; W mean + b, s^2 I) - tr(W diag(var) W^T) / (2 s^2); minus KL(q || p(z)).
        Returns (batch,).
        """
        mean = tf.convert_to_tensor(mean, DTYPE)
        variance = tf.exp(tf.cast(logvar, DTYPE))
        at_mean = self.log_likelihood(x, mean)
        spread = tf.linalg.matvec(tf.constant(self.weights**2, DTYPE), variance)
        return at_mean - tf.reduce_sum(spread, axis=-1) / (2.0 * self.noise_std**2) - losses.analytic_kl(mean, tf.cast(logvar, DTYPE))


class TinyBernoulliDecoder:
    """p(z) = N(0, I_d) with d = 1 or 2; p(x|z) = Bernoulli pixels with logits W2 tanh(W1 z + b1) + b2.

    Args:
      num_pixels: how many binary pixels x has.
      latent_dim: 1 or 2 (quadrature on a grid is what keeps log p(x) exact).
      seed: fixes the decoder's weights.
    """

    def __init__(self, num_pixels=8, latent_dim=1, hidden=16, seed=0):
        if latent_dim not in (1, 2):
            raise ValueError(f"latent_dim must be 1 or 2 for quadrature; got {latent_dim!r}.")
        rng = np.random.default_rng(seed)
        self.latent_dim, self.num_pixels = latent_dim, num_pixels
        self.w1 = rng.normal(scale=2.0, size=(hidden, latent_dim))
        self.b1 = rng.normal(size=hidden)
        self.w2 = rng.normal(scale=1.5, size=(num_pixels, hidden))
        self.b2 = rng.normal(scale=0.5, size=num_pixels)

    def logits(self, z):
        """z: (..., d) -> logits (..., num_pixels)."""
        hidden = tf.tanh(tf.linalg.matvec(self.w1, tf.cast(z, DTYPE)) + self.b1)
        return tf.linalg.matvec(self.w2, hidden) + self.b2

    def log_likelihood(self, x, z):
        """log p(x|z). x: (batch, P) of 0/1; z: (..., batch, d) -> (..., batch)."""
        logits = self.logits(z)
        cross_entropy = tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.broadcast_to(tf.cast(x, DTYPE), logits.shape), logits=logits
        )
        return -tf.reduce_sum(cross_entropy, axis=-1)

    def log_joint(self, x, z):
        return self.log_likelihood(x, z) + losses.log_normal_pdf(tf.cast(z, DTYPE), 0.0, 0.0, raxis=-1)

    def sample(self, num_samples, seed):
        """Returns x (num_samples, P) of 0/1 and the z (num_samples, d) that generated it."""
        rng = np.random.default_rng(seed)
        z = rng.normal(size=(num_samples, self.latent_dim))
        probabilities = 1.0 / (1.0 + np.exp(-self.logits(z).numpy()))
        return (rng.uniform(size=probabilities.shape) < probabilities).astype(np.float64), z

    def grid(self, points_per_dim=401, half_width=8.0):
        """Quadrature nodes: z (G, d) on a regular grid over [-half_width, half_width]^d, and the
        log of each cell's volume."""
        axis = np.linspace(-half_width, half_width, points_per_dim)
        mesh = np.stack(np.meshgrid(*[axis] * self.latent_dim, indexing="ij"), axis=-1)
        return mesh.reshape(-1, self.latent_dim), self.latent_dim * math.log(axis[1] - axis[0])

    def log_joint_on_grid(self, x, points_per_dim=401, half_width=8.0):
        """log p(x, z) at every grid node: (G, batch), and the nodes (G, d) and log cell volume."""
        nodes, log_volume = self.grid(points_per_dim, half_width)
        z = np.broadcast_to(nodes[:, None, :], (len(nodes), len(x), self.latent_dim))
        return self.log_joint(x, z), nodes, log_volume

    def log_marginal(self, x, points_per_dim=401, half_width=8.0):
        """log p(x) = log sum over the grid of p(x, z) * cell volume. x: (batch, P) -> (batch,)."""
        log_joint, _, log_volume = self.log_joint_on_grid(x, points_per_dim, half_width)
        return tf.reduce_logsumexp(log_joint, axis=0) + log_volume
