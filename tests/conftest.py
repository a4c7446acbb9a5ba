import os

# Keep TensorFlow's C++ start-up chatter out of test logs; set before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest

from vae_helpers import config, data


@pytest.fixture(scope="session")
def bundled():
    return data.load_mnist("bundled")


@pytest.fixture(autouse=True)
def _seeded():
    config.set_seeds(config.SEED)
    yield


@pytest.fixture
def rng():
    return np.random.default_rng(0)
