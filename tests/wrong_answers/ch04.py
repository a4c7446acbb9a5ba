"""Wrong answers to chapter 4's coding exercises: each must lose points (tests/test_assignments.py)
and fail the chapter's visible check (tests/test_chapter_checks.py)."""

_BERNOULLI = "def bernoulli_log_likelihood(x, logits):\n"
_KL = "def analytic_kl(mean, logvar):\n"

WRONG = {
    "ex-loss-bernoulli": {
        "a constant": _BERNOULLI + "    return -500.0",
        "the naive formula (log of a sigmoid that rounds to 0 or 1)":
            _BERNOULLI + "    s = 1.0 / (1.0 + np.exp(-logits))\n"
            "    return np.sum(x * np.log(s) + (1.0 - x) * np.log(1.0 - s))",
        "the two softplus terms swapped":
            _BERNOULLI + "    return np.sum(-x * np.logaddexp(0.0, logits)\n"
            "                  - (1.0 - x) * np.logaddexp(0.0, -logits))",
        "the mean over pixels for the sum":
            _BERNOULLI + "    return np.mean(-x * np.logaddexp(0.0, -logits)\n"
            "                   - (1.0 - x) * np.logaddexp(0.0, logits))",
        "the cross-entropy (the sign flipped)":
            _BERNOULLI + "    return np.sum(x * np.logaddexp(0.0, -logits)\n"
            "                  + (1.0 - x) * np.logaddexp(0.0, logits))",
    },
    "ex-loss-analytic-kl": {
        "a constant": _KL + "    return np.ones(np.shape(mean)[0])",
        "without the 1/2":
            _KL + "    return np.sum(np.exp(logvar) + mean**2 - 1.0 - logvar, axis=1)",
        "summed over the images, not the latent dimensions":
            _KL + "    return 0.5 * np.sum(np.exp(logvar) + mean**2 - 1.0 - logvar, axis=0)",
        "the std for the variance":
            _KL + "    return 0.5 * np.sum(np.exp(0.5 * logvar) + mean**2 - 1.0 - logvar,\n"
            "                        axis=1)",
        "the sign of log sigma^2":
            _KL + "    return 0.5 * np.sum(np.exp(logvar) + mean**2 - 1.0 + logvar, axis=1)",
        "the mean over the latent dimensions for the sum":
            _KL + "    return 0.5 * np.mean(np.exp(logvar) + mean**2 - 1.0 - logvar, axis=1)",
    },
}
