"""Wrong answers to chapter 7's coding exercises: each must lose points (tests/test_assignments.py)
and fail the chapter's visible check (tests/test_chapter_checks.py)."""

WRONG = {
    "ex-eval-iwae": {
        "a constant": "def iwae_from_log_weights(log_w):\n"
                      "    return np.full(log_w.shape[1], -100.0)",
        "the mean of log w (the ELBO)": "def iwae_from_log_weights(log_w):\n"
                                        "    return log_w.mean(axis=0)",
        "logsumexp without - log k":
            "def iwae_from_log_weights(log_w):\n"
            "    from scipy.special import logsumexp\n"
            "    return logsumexp(log_w, axis=0)",
        "the naive formula (underflows)":
            "def iwae_from_log_weights(log_w):\n"
            "    return np.log(np.mean(np.exp(log_w), axis=0))",
        "log-mean-exp over the images (the wrong axis)":
            "def iwae_from_log_weights(log_w):\n"
            "    peak = log_w.max(axis=1, keepdims=True)\n"
            "    return (peak + np.log(np.mean(np.exp(log_w - peak), axis=1,\n"
            "                                  keepdims=True)))[:, 0]",
    },
    "ex-eval-se": {
        "a constant": "def iwae_estimate(log_w):\n    return -100.0, 1.0",
        "the mean of log w (the ELBO)":
            "def iwae_estimate(log_w):\n"
            "    per_image = log_w.mean(axis=0)\n"
            "    return per_image.mean(), per_image.std(ddof=1) / np.sqrt(per_image.size)",
        "logsumexp without - log k":
            "def iwae_estimate(log_w):\n"
            "    from scipy.special import logsumexp\n"
            "    per_image = logsumexp(log_w, axis=0)\n"
            "    return per_image.mean(), per_image.std(ddof=1) / np.sqrt(per_image.size)",
        "the standard deviation for the standard error":
            "def iwae_estimate(log_w):\n"
            "    from scipy.special import logsumexp\n"
            "    per_image = logsumexp(log_w, axis=0) - np.log(len(log_w))\n"
            "    return per_image.mean(), per_image.std(ddof=1)",
        "log-mean-exp over the images (the wrong axis)":
            "def iwae_estimate(log_w):\n"
            "    from scipy.special import logsumexp\n"
            "    per_draw = logsumexp(log_w, axis=1) - np.log(log_w.shape[1])\n"
            "    return per_draw.mean(), per_draw.std(ddof=1) / np.sqrt(per_draw.size)",
    },
}
