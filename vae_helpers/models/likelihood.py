"""The CVAE with another pixel likelihood, for the grey levels of chapter 11.

It overrides one part of the model contract (`models.base`), the pixel likelihood
`pixel_log_likelihood(x, logits)`; training (`losses.elbo_terms`) and `evaluation` score it through
that part.
"""

import keras
import tensorflow as tf

from vae_helpers import likelihoods, models


class LikelihoodCVAE(models.CVAE):
    """The CVAE with another pixel likelihood, for grey-level images.

    Args:
      latent_dim, seed: as for `models.CVAE`.
      likelihood: one of `likelihoods.LIKELIHOODS`. "gaussian" learns one standard deviation
        shared by all pixels (`log_scale`, starting at 0: sigma = 1).
    """

    def __init__(self, latent_dim, likelihood, seed=None, **kwargs):
        super().__init__(latent_dim, seed=seed, **kwargs)
        self.likelihood = likelihoods.check_name(likelihood)
        if self.likelihood == "gaussian":
            self.log_scale = self.add_weight(
                shape=(), initializer="zeros", name="log_scale"
            )

    def pixel_log_likelihood(self, x, logits):
        """log p(x|z) of each image (batch,) from the decoder's logits."""
        if self.likelihood == "continuous_bernoulli":
            return likelihoods.continuous_bernoulli(x, logits)
        if self.likelihood == "gaussian":
            return likelihoods.gaussian(x, logits, self.log_scale)
        return likelihoods.bernoulli(x, logits)

    def pixel_mean(self, logits):
        """E[x|z] of each pixel (batch, 28, 28, 1) from the logits: what a picture shows."""
        if self.likelihood == "continuous_bernoulli":
            return likelihoods.continuous_bernoulli_mean(logits)
        return tf.sigmoid(logits)

    def decode(self, z, apply_sigmoid=False):
        """As `models.CVAE.decode`; `apply_sigmoid` gives each pixel's mean under
        this likelihood (the continuous Bernoulli's is not sigmoid(logits))."""
        logits = super().decode(z)
        return self.pixel_mean(logits) if apply_sigmoid else logits

    def get_config(self):
        return {**super().get_config(), "likelihood": self.likelihood}


keras.saving.register_keras_serializable(package="vae_helpers")(LikelihoodCVAE)
