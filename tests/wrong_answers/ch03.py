"""Wrong answers to chapter 3's coding exercises: each must lose points (tests/test_assignments.py)
and fail the chapter's visible check (tests/test_chapter_checks.py)."""

_PARAMS = "def dense_parameters(latent_dim):\n"
_REPARAM = "def reparameterize(mean, logvar):\n"
_EPS = "    eps = tf.random.normal(tf.shape(mean), dtype=mean.dtype)\n"

WRONG = {
    "ex-model-params": {
        "a constant (the count at latent_dim 2)": _PARAMS + "    return 9220",
        "no biases": _PARAMS + "    return 6 * 6 * 64 * 2 * latent_dim",
        "latent_dim outputs, not 2 * latent_dim":
            _PARAMS + "    return 6 * 6 * 64 * latent_dim + latent_dim",
        "the image's 28 x 28 pixels as the input":
            _PARAMS + "    return 28 * 28 * 2 * latent_dim + 2 * latent_dim",
        "one bias per input, not per output":
            _PARAMS + "    return 6 * 6 * 64 * 2 * latent_dim + 6 * 6 * 64",
    },
    "ex-model-reparameterize": {
        "no noise": _REPARAM + "    return mean",
        "the variance for the std": _REPARAM + _EPS + "    return mean + tf.exp(logvar) * eps",
        "the log-variance as the std": _REPARAM + _EPS + "    return mean + logvar * eps",
        "the std cut off from the graph":
            _REPARAM + _EPS + "    return mean + tf.stop_gradient(tf.exp(0.5 * logvar)) * eps",
        "computed in NumPy, so no gradient":
            _REPARAM + "    eps = np.random.standard_normal(tuple(mean.shape))\n"
            "    z = np.asarray(mean) + np.exp(0.5 * np.asarray(logvar)) * eps\n"
            "    return tf.constant(z, dtype=mean.dtype)",
        "the same noise at every call":
            _REPARAM + "    eps = tf.random.stateless_normal(tf.shape(mean), seed=[1, 2],\n"
            "                                     dtype=mean.dtype)\n"
            "    return mean + tf.exp(0.5 * logvar) * eps",
        "one draw of noise shared by the whole batch":
            _REPARAM + "    eps = tf.random.normal(tf.shape(mean)[1:], dtype=mean.dtype)\n"
            "    return mean + tf.exp(0.5 * logvar) * eps",
    },
}
