"""Helpers for the hands-on VAE book: every piece of code a later chapter, test or benchmark reuses.

Modules, in the order data flows through them:

* `config`: quick mode, seeds and the argument checks every module shares (importable by all).
* `data`: MNIST loading (full or the bundled offline subset), binarisation, `tf.data` pipelines.
* `losses`: the ELBO and its terms. Pure tensor maths: it imports nothing else from the package
  and asks the model (`models.base`'s contract) for its encoder, decoder, prior and likelihood.
* `likelihoods`: the pixel likelihoods for grey levels (continuous Bernoulli, Gaussian).
* `models`: every model the book trains, on one contract (prior, posterior and likelihood as
  named parts): `models.base` (the contract, input checks, saving), `models.conv` (`CVAE`, the
  convolutional VAE; its `train_step` optimises `losses`), `models.cures` (chapter 9's KL warm-up
  and free bits), `models.likelihood` (`LikelihoodCVAE`, chapter 11).
* `bounds`: Monte Carlo ELBO and IWAE estimators for any model with a tractable log p(x, z).
* `toy`: models whose log p(x) is exact (closed form or quadrature), the referees of chapters 1-2.
* `checkpoints`: the checkpoint format: atomic saves, the run record, the checks before a resume.
* `precision`: which precision `train` computes in (bfloat16 inside the model on CPUs with units for it).
* `training`: `train` (model.fit with a test ELBO per epoch, a checkpoint per epoch, exact resume).
* `published`: the published book's trained models, fetched and checked when a checkpoint is missing.
* `runs`: the one training recipe (`train_model`) and the book's trained models, shared by the chapters.
* `evaluation`: IWAE_k of any model (through `bounds` and its contract), grid log p(x) for 2-D models, active units.
* `latent`: quantile and midpoint grids, interpolation and encoding in latent space.
* `aggregate`: the aggregate posterior q(z), its density and holes, and the rate's split (chapter 10).
* `judge`: chapter 12's judgements by label: how often a classifier names samples as asked, seed intervals.
* `distributed`: `tf.distribute` strategies, logical CPUs and the two-worker launcher (chapter 13).
* `plots`: the figures chapters share.
* `notebook`: what the chapters' setup cells share (the one-line environment report, `glue`).
"""

# The book's version. Its release is the git tag v<version>, which the Colab badges and install
# lines pin (`python tools/sync_colab_links.py` rewrites them after a change here).
__version__ = "0.1.0"
