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
with the rest of the model, is a whole model in twenty lines: `priors.MixturePriorCVAE`, which
overrides `prior_log_prob` and nothing else.

(tests/test_model_contract.py trains it one step through `runs.train_model` and checks its
prior against a numpy mixture and a grid integral.) The
closed-form KL against N(0, I) (`kl="analytic"`, the rate of `evaluation.rate_distortion`) is
refused for a model with its own prior, with a message that names the Monte Carlo estimate. A
model that needs labels sets `uses_labels = True` and takes `terms(x, labels)`; `runs.train_model`
then gives it (images, labels) batches.

Modules: `base` (the contract, input checks, saving), `conv` (`CVAE`, the tutorial's convolutional
VAE, chapter 3), `cures` (KL warm-up and free bits, chapter 9), `likelihood` (`LikelihoodCVAE`,
grey-level likelihoods, chapter 11), `conditional` (`ConditionalVAE`, Sohn et al.'s conditional VAE:
`sample(labels, z=None)` draws the digits asked for), `semi_supervised` (`SemiSupervisedVAE`,
Kingma et al.'s M2: `classify(images)` gives q(y|x)), `priors` (a learned mixture prior and
Tomczak & Welling's VampPrior), `flows` (`IAFCVAE`, Kingma et al.'s inverse autoregressive flow
on q(z|x)), `completion` (`CompletionCVAE`, Sohn et al.'s conditional VAE completing the hidden
quadrants of a digit, with a conditional prior p(z | x_o), and Pyro's deterministic baseline).
A model conditioned on each batch says so through `scored_at(x, labels)`, the view `evaluation`
scores the batch with. Each class keeps the Keras name it was registered under
("vae_helpers>CVAE", ...), so a checkpoint saved before this package existed still loads.
"""

from vae_helpers.models.base import VAEBase, images_of
from vae_helpers.models.conv import CVAE, make_decoder, make_encoder
from vae_helpers.models.cures import AnalyticKLCVAE, FreeBitsCVAE, WarmupCVAE
from vae_helpers.models.likelihood import LikelihoodCVAE
from vae_helpers.models.conditional import ConditionalVAE
from vae_helpers.models.semi_supervised import SemiSupervisedVAE
from vae_helpers.models.priors import MixturePriorCVAE, VampPriorCVAE
from vae_helpers.models.flows import IAFCVAE
from vae_helpers.models.completion import CompletionBaseline, CompletionCVAE

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
    "MixturePriorCVAE",
    "VampPriorCVAE",
    "IAFCVAE",
    "CompletionCVAE",
    "CompletionBaseline",
]
