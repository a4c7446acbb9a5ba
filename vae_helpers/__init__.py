"""Helpers for the hands-on VAE book: every piece of code a later chapter, test or benchmark reuses.

Modules, in the order data flows through them:

* `config`: quick mode and seeds (importable by all).
* `data`: MNIST loading (full or the bundled offline subset), binarisation, `tf.data` pipelines.
* `losses`: the ELBO and its terms. Pure tensor maths: it imports nothing else from the package
  and takes any model that has `encode`, `reparameterize` and `decode`.
* `models`: the convolutional VAE. Its `train_step` optimises `losses`, so it sits after it.
* `bounds`: Monte Carlo ELBO and IWAE estimators for any model with a tractable log p(x, z).
* `toy`: models whose log p(x) is exact (closed form or quadrature), the referees of chapters 1-2.
* `training`: `train` (model.fit with a test ELBO per epoch, atomic checkpoints, exact resume).
* `precision`: which precision `train` computes in (bfloat16 inside the model on CPUs with units for it).
* `runs`: the book's trained models, defined once and shared by chapters 5-8.
* `evaluation`: IWAE_k on the CVAE (through `bounds`), grid log p(x) for 2-D models, active units.
* `latent`: quantile grids and interpolation in latent space.
* `plots`: the figures chapters share.
* `notebook`: what the chapters' setup cells share (the one-line environment report, `glue`).
"""

# The book's version. Its release is the git tag v<version>, which the Colab badges and install
# lines pin (`python tools/sync_colab_links.py` rewrites them after a change here).
__version__ = "0.1.0"
