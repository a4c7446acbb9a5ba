"""Every model the book trains, on one contract.

The contract (`base.VAEBase`) names a VAE's three parts, with the book's VAE as the defaults:

=================  ====================================================  =========================
part               methods (shapes: x (batch, 28, 28, 1), z (batch, d)   default
                   or (num_samples, batch, d), log-densities (batch,)
                   or (num_samples, batch), nats)
=================  ====================================================  =========================
prior p(z)         `prior_log_prob(z)`                                   N(0, I)
posterior q(z|x)   `posterior_sample(x, num_samples=None, seed=None)`    N(mean, diag(exp(logvar)))
                   -> (z, log q); `posterior_log_prob(z, x)`             from `encode(x)`
likelihood p(x|z)  `log_likelihood(x, z)`; `pixel_log_likelihood(x,     Bernoulli pixels, logits
                   logits)` for a model that changes the pixels' law     `decode(z)`
=================  ====================================================  =========================

Training (`losses.elbo_terms` inside `train_step`), `evaluation`, `bounds`, `aggregate` and
`latent` reach a model through these parts alone, so a new model overrides the part it changes and
nothing else. A learned prior, a mixture of K Gaussians whose means, variances and weights train
with the rest of the model, is a whole model in twenty lines::

    class MixturePriorCVAE(models.CVAE):
        '''The CVAE with a learned prior: a mixture of `components` Gaussians.'''

        def __init__(self, latent_dim, components=10, seed=None, **kwargs):
            super().__init__(latent_dim, seed=seed, **kwargs)
            self.components = components
            spread = keras.initializers.RandomNormal(seed=seed)
            shape = (components, self.latent_dim)
            self.prior_means = self.add_weight(shape=shape, initializer=spread)
            self.prior_logvars = self.add_weight(shape=shape, initializer="zeros")
            self.prior_logits = self.add_weight(shape=(components,), initializer="zeros")

        def prior_log_prob(self, z):
            # (..., 1, d) against (K, d): every component's log-density, (..., K).
            z = tf.convert_to_tensor(z)[..., None, :]
            log_components = losses.log_normal_pdf(z, self.prior_means, self.prior_logvars, raxis=-1)
            log_weights = tf.cast(tf.nn.log_softmax(self.prior_logits), z.dtype)
            return tf.reduce_logsumexp(log_components + log_weights, axis=-1)

        def get_config(self):
            return {**super().get_config(), "components": self.components}

    keras.saving.register_keras_serializable(package="my_course")(MixturePriorCVAE)

(tests/test_model_contract.py runs this very text: it trains the model one step through
`runs.train_model` and checks its prior against a numpy mixture and a grid integral.) The
closed-form KL against N(0, I) (`kl="analytic"`, the rate of `evaluation.rate_distortion`) is
refused for a model with its own prior, with a message that names the Monte Carlo estimate. A
model that needs labels sets `uses_labels = True` and takes `terms(x, labels)`; `runs.train_model`
then gives it (images, labels) batches.

Modules: `base` (the contract, input checks, saving), `conv` (`CVAE`, the tutorial's convolutional
VAE, chapter 3), `cures` (KL warm-up and free bits, chapter 9), `likelihood` (`LikelihoodCVAE`,
grey-level likelihoods, chapter 11), `conditional` (`ConditionalVAE`, Sohn et al.'s conditional VAE:
`sample(labels, z=None)` draws the digits asked for), `semi_supervised` (`SemiSupervisedVAE`,
Kingma et al.'s M2: `classify(images)` gives q(y|x)). Each class keeps the Keras name it was registered under
("vae_helpers>CVAE", ...), so a checkpoint saved before this package existed still loads.
"""

from vae_helpers.models.base import VAEBase, images_of
from vae_helpers.models.conv import CVAE, make_decoder, make_encoder
from vae_helpers.models.cures import AnalyticKLCVAE, FreeBitsCVAE, WarmupCVAE
from vae_helpers.models.likelihood import LikelihoodCVAE
from vae_helpers.models.conditional import ConditionalVAE
from vae_helpers.models.semi_supervised import SemiSupervisedVAE

__all__ = [
    "VAEBase",
    "images_of",
    "CVAE",
    "make_encoder",
    "make_decoder",
    "AnalyticKLCVAE",
    "WarmupCVAE",
    "FreeBitsCVAE",
    "LikelihoodCVAE",
    "ConditionalVAE",
    "SemiSupervisedVAE",
]
