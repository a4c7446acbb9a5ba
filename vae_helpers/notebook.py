"""What every chapter's setup cell shares: one line about the run, and `glue` for quoted numbers."""

import tensorflow as tf

from vae_helpers import config


def setup_line(mnist=None):
    """One line: the book's version, TensorFlow and Keras versions, the device, quick or full mode,
    and the data used."""
    import keras

    import vae_helpers

    gpus = tf.config.list_physical_devices("GPU")
    device = f"GPU ({len(gpus)} found)" if gpus else "CPU only (in Colab: Runtime > Change runtime type > GPU)"
    versions = f"vae_helpers {vae_helpers.__version__}, TensorFlow {tf.__version__}, Keras {keras.__version__}"
    parts = [versions, f"device: {device}", config.mode_name()]
    if mnist is not None:
        parts.append(f"data: {mnist.description}")
    return " | ".join(parts)


def fit_verbosity():
    """Keras' progress bar (1) where someone watches (Colab), one line per epoch (2) elsewhere:
    in the rendered book a bar's hundreds of redraws would be noise."""
    import sys

    return 1 if "google.colab" in sys.modules else 2


def glue(name, value, display=False):
    """Records `value` for the book's prose (`{glue:text}` roles); a no-op where myst-nb is absent
    (Colab), so the same cell runs everywhere."""
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
