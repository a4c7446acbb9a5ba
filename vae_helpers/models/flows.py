"""A richer posterior on the book's CVAE (issue 8/8, for a chapter to come): Kingma et al.'s
(2016) inverse autoregressive flow, q(z|x) a Gaussian pushed through `steps` invertible maps.

Each step t reads the previous code z and the encoder's context h through a MADE network whose
i-th outputs (m_i, s_i) depend on z_<i only (Germain et al., 2015), and moves

    z <- sigma * z + (1 - sigma) * m,   sigma = f + (1 - f) sigmoid(s),

Kingma et al.'s numerically stable form, with sigma kept above a floor f = `SIGMA_FLOOR` so that
the inverse step (a division by sigma) stays finite far from the data. Its Jacobian is triangular
with sigma on the diagonal, so

    log q(z_T | x) = log N(z_0; mean, var) - sum_t sum_i log sigma_t,i.

The order of the dimensions is reversed between steps, so that every dimension gets to depend on
every other. `posterior_log_prob(z, x)` inverts the flow (latent_dim passes a step, one dimension
solved each, exact for an autoregressive map) to score any z.
"""

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import bounds, losses, models

SIGMA_FLOOR = 1e-3
"""The least a step's sigma can be: the inverse step divides by it."""


def gate(s):
    """sigma = f + (1 - f) sigmoid(s) of each step, f = `SIGMA_FLOOR`, and its log."""
    sigma = SIGMA_FLOOR + (1.0 - SIGMA_FLOOR) * tf.sigmoid(s)
    return sigma, tf.math.log(sigma)


def made_masks(latent_dim, hidden):
    """The masks of a one-hidden-layer MADE on latent_dim inputs: (latent_dim, hidden) into the
    hidden layer and (hidden, latent_dim) out of it, float32, such that output i depends on
    inputs < i only. Input i has degree i + 1; hidden unit k degree 1 + k mod (latent_dim - 1)."""
    inputs = np.arange(1, latent_dim + 1)
    degrees = 1 + np.arange(hidden) % max(latent_dim - 1, 1)
    into = (degrees[None, :] >= inputs[:, None]).astype(np.float32)
    out = (inputs[None, :] > degrees[:, None]).astype(np.float32)
    return into, out


class IAFStep(keras.layers.Layer):
    """One IAF step: (z (batch, d), h (batch, context)) -> (m, s), each (batch, d), m_i and s_i
    functions of z_<i and h only."""

    def __init__(self, latent_dim, context, hidden=64, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim, self.context, self.hidden = int(latent_dim), int(context), int(hidden)
        self.mask_in, self.mask_out = (tf.constant(m) for m in made_masks(self.latent_dim, self.hidden))
        self.w_in = self.add_weight(shape=(self.latent_dim, self.hidden), initializer="glorot_uniform")
        self.w_context = self.add_weight(shape=(self.context, self.hidden), initializer="glorot_uniform")
        self.b_hidden = self.add_weight(shape=(self.hidden,), initializer="zeros")
        self.w_m = self.add_weight(shape=(self.hidden, self.latent_dim), initializer="glorot_uniform")
        self.w_s = self.add_weight(shape=(self.hidden, self.latent_dim), initializer="glorot_uniform")
        self.b_m = self.add_weight(shape=(self.latent_dim,), initializer="zeros")
        # s starts near +1.5: sigma near 0.8, each step close to the identity (Kingma et al.).
        self.b_s = self.add_weight(shape=(self.latent_dim,), initializer=keras.initializers.Constant(1.5))

    def call(self, z, h):
        hidden = tf.nn.relu(z @ (self.w_in * self.mask_in) + h @ self.w_context + self.b_hidden)
        m = hidden @ (self.w_m * self.mask_out) + self.b_m
        s = hidden @ (self.w_s * self.mask_out) + self.b_s
        return m, s

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "context": self.context,
                "hidden": self.hidden}


class IAFCVAE(models.CVAE):
    """The CVAE with an inverse autoregressive flow of `steps` steps on its posterior.

    The encoder gives the Gaussian's mean and log-variance and a context h of `context` numbers
    (one Dense layer, as the CVAE's, with 2 * latent_dim + context outputs).

    Args:
      latent_dim, seed, beta: as for `models.CVAE`.
      steps: positive int, the flow's steps.
      context: positive even int, the size of h.
      hidden: the MADE's hidden units.
    """

    def __init__(self, latent_dim, steps=2, context=16, hidden=64, seed=None, beta=1.0, **kwargs):
        # The base's checks, not CVAE's constructor: its encoder has no context outputs, and Keras
        # keeps tracking a half that is replaced (as models.ConditionalVAE).
        models.VAEBase.__init__(self, latent_dim, seed=seed, beta=beta, **kwargs)
        self.steps, self.context, self.hidden = int(steps), int(context), int(hidden)
        if self.steps < 1 or self.context < 2 or self.context % 2 or self.hidden < 1:
            raise ValueError(f"steps and hidden must be positive ints and context a positive even int; "
                             f"got steps={steps!r}, context={context!r}, hidden={hidden!r}.")
        self.encoder = models.make_encoder(self.latent_dim + self.context // 2)
        self.decoder = models.make_decoder(self.latent_dim)
        self.flow = [IAFStep(self.latent_dim, self.context, self.hidden, name=f"iaf_{t}")
                     for t in range(self.steps)]
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {name: keras.metrics.Mean(name=name)
                         for name in ("loss", "elbo", "reconstruction_loss", "kl_loss")}
        self.built = True

    def flow_weights(self):
        """Every weight of the flow's steps (to perturb or inspect them)."""
        return [weight for step in self.flow for weight in step.weights]

    def encode(self, x):
        """x (batch, 28, 28, 1) -> mean, logvar (batch, latent_dim) of the flow's Gaussian start."""
        return self.encode_with_context(x)[:2]

    def encode_with_context(self, x):
        """x -> mean, logvar (batch, latent_dim) and the context h (batch, context)."""
        out = self.encoder(self.check_images(x))
        d = self.latent_dim
        return out[:, :d], out[:, d:2 * d], out[:, 2 * d:]

    def push(self, z0, h):
        """The flow: z0 (batch, d), h (batch, context) -> z_T (batch, d) and the log-determinant of
        its Jacobian, sum_t sum_i log sigma_t,i (batch,)."""
        z, log_det = z0, tf.zeros(tf.shape(z0)[:1], z0.dtype)
        for step in self.flow:
            m, s = step(z, h)
            sigma, log_sigma = gate(s)
            z = sigma * z + (1.0 - sigma) * m
            log_det += tf.reduce_sum(log_sigma, axis=-1)
            z = tf.reverse(z, axis=[-1])  # the next step reads the dimensions in reverse order
        return z, log_det

    def pull(self, z, h):
        """The inverse of `push`: z_T -> z0 and sum_t sum_i log sigma at the z each step read."""
        log_det = tf.zeros(tf.shape(z)[:1], z.dtype)
        for step in reversed(self.flow):
            z = tf.reverse(z, axis=[-1])
            # Autoregressive: dimension i's (m, s) read dimensions < i only, so pass i solves
            # dimension i exactly from the ones before it. The others stay 0 until their pass (a
            # far-off guess could overflow, and inf times a masked 0 weight is nan).
            previous = tf.zeros_like(z)
            for i in range(self.latent_dim):
                m, s = step(previous, h)
                sigma, log_sigma = gate(s)
                solved = (z - (1.0 - sigma) * m) / sigma
                previous = tf.where(tf.range(self.latent_dim) == i, solved, previous)
            # The last pass read every dimension but the last, which no output reads: its sigma
            # is the one the step computed from the solved z.
            log_det += tf.reduce_sum(log_sigma, axis=-1)
            z = previous
        return z, log_det

    def posterior_sample(self, x, num_samples=None, seed=None):
        """z ~ q(z|x) through the flow, and log q(z|x) at it; shapes as `VAEBase.posterior_sample`."""
        mean, logvar, h = self.encode_with_context(x)
        count = num_samples or 1
        z0 = bounds.sample_q(mean, logvar, count, self.noise if seed is None else seed)  # (count, batch, d)
        flat = tf.reshape(z0, (-1, self.latent_dim))
        z, log_det = self.push(flat, tf.tile(h, [count, 1]))
        log_q0 = losses.log_normal_pdf(z0, mean, logvar, raxis=-1)  # (count, batch)
        z = tf.reshape(z, tf.shape(z0))
        log_q = log_q0 - tf.reshape(log_det, tf.shape(log_q0))
        return (z, log_q) if num_samples else (z[0], log_q[0])

    def posterior_log_prob(self, z, x):
        """log q(z|x) at given z (batch, d) or (num_samples, batch, d): the flow inverted."""
        mean, logvar, h = self.encode_with_context(x)
        z = tf.convert_to_tensor(z, mean.dtype)
        single = z.shape.rank == 2
        z = z[None] if single else z
        count = tf.shape(z)[0]
        z0, log_det = self.pull(tf.reshape(z, (-1, self.latent_dim)), tf.tile(h, [count, 1]))
        z0 = tf.reshape(z0, tf.shape(z))
        log_q = losses.log_normal_pdf(z0, mean, logvar, raxis=-1) - tf.reshape(log_det, tf.shape(z)[:2])
        return log_q[0] if single else log_q

    def terms(self, x):
        """The ELBO's terms at one z ~ q(z|x) from the flow: log p(x|z) and log q(z|x) - log p(z)
        (a Monte Carlo KL: q has no closed form). (batch,) each."""
        z, log_q = self.posterior_sample(x)
        reconstruction = self.pixel_log_likelihood(x, self.decode(z))
        kl = log_q - self.prior_log_prob(z)
        return {"reconstruction": reconstruction, "kl": kl, "elbo": reconstruction - kl}

    def get_config(self):
        return {**super().get_config(), "steps": self.steps, "context": self.context, "hidden": self.hidden}


for _cls in (IAFStep, IAFCVAE):
    keras.saving.register_keras_serializable(package="vae_helpers")(_cls)
