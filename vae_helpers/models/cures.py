"""Two cures for posterior collapse, as chapter 9 shows them: KL warm-up and free bits.

Each changes only the objective the optimizer descends (`objective(terms)`); the "elbo" metric
stays the true ELBO, so a cured model is scored on the same scale as the baseline. All three
(the baseline `AnalyticKLCVAE` too) take the KL in closed form, the estimator free bits needs, so
that a comparison of them compares objectives, not KL estimators. Each cure sets the KL weight
itself, so a `beta` other than 1 is refused rather than stored and ignored.
"""

import keras
import tensorflow as tf

from vae_helpers import config, losses, models


class AnalyticKLCVAE(models.CVAE):
    """The book's CVAE with the KL term in closed form (chapter 4's
    `compute_loss_analytic_kl`): the estimator free bits charges, so a
    cure compared with this baseline differs in its objective alone.

    Args: as for `models.CVAE`.
    """

    def terms(self, x):
        return losses.elbo_terms(self, x, kl="analytic")


class WarmupCVAE(AnalyticKLCVAE):
    """KL warm-up, linear as in Sonderby et al. (2016); Bowman et al.
    (2016) also anneal the KL weight from 0 to 1. The weight is beta =
    min(1, t / warmup_steps), t the optimizer steps already taken: 0 on
    the first step, 1 from step warmup_steps + 1 on.

    Args:
      latent_dim, seed: as for `models.CVAE`.
      warmup_steps: positive int, optimizer steps until beta reaches 1.
    """

    def __init__(self, latent_dim, warmup_steps, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.require_beta_one("ramps the KL weight from 0 to 1 itself")
        self.warmup_steps = config.positive_int("warmup_steps",
                                                warmup_steps)

    def kl_weight(self):
        """beta at the current step: min(1, steps taken / warmup_steps)."""
        optimizer = getattr(self, "optimizer", None)
        if optimizer is None:  # never compiled, so never trained
            return tf.constant(1.0)
        # The optimizer's step counter is a variable: the compiled step
        # reads its current value, and a checkpoint saves and restores it.
        steps = tf.cast(optimizer.iterations, tf.float32)
        return tf.minimum(1.0, steps / self.warmup_steps)

    def objective(self, terms):
        return -(terms["reconstruction"] - self.kl_weight() * terms["kl"])

    def get_config(self):
        return {**super().get_config(), "warmup_steps": self.warmup_steps}


class FreeBitsCVAE(AnalyticKLCVAE):
    """Free bits (Kingma et al., 2016): each latent dimension's KL, averaged
    over the batch, is charged as at least `free_bits` nats, so a dimension
    can carry up to that much information at no cost.

    Args:
      latent_dim, seed: as for `models.CVAE`.
      free_bits: positive number, the floor lambda in nats per dimension.
    """

    def __init__(self, latent_dim, free_bits, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.require_beta_one("charges each dimension's KL at weight 1")
        # At most 1e6 nats: far above what an image holds (784 bytes are
        # 4,347 nats), far below float32's overflow at 3.4e38.
        self.free_bits = config.positive_number("free_bits", free_bits,
                                                maximum=1e6)

    def objective(self, terms):
        # (batch, latent_dim) -> (latent_dim,): the floor applies to each
        # dimension's batch average, not to each image.
        kl_per_dimension = tf.reduce_mean(terms["kl_per_dimension"], axis=0)
        charged = tf.reduce_sum(
            tf.maximum(kl_per_dimension, self.free_bits))
        # The same charge on every image: the batch's mean loss is then the
        # mean reconstruction loss + sum_j max(KL_j, lambda).
        return -terms["reconstruction"] + charged

    def get_config(self):
        return {**super().get_config(), "free_bits": self.free_bits}


keras.saving.register_keras_serializable(package="vae_helpers")(AnalyticKLCVAE)
keras.saving.register_keras_serializable(package="vae_helpers")(WarmupCVAE)
keras.saving.register_keras_serializable(package="vae_helpers")(FreeBitsCVAE)

