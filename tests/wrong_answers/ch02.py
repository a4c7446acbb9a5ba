"""Wrong answers to chapter 2's coding exercises: each must lose points (tests/test_assignments.py)
and fail the chapter's visible check (tests/test_chapter_checks.py)."""

_HEAD = "def kl_1d(mean, logvar):\n"

WRONG = {
    "ex-elbo-kl1d": {
        "a constant": _HEAD + "    return 0.5",
        "without the 1/2": _HEAD + "    return np.exp(logvar) + mean**2 - 1.0 - logvar",
        "the std for the variance":
            _HEAD + "    return 0.5 * (np.exp(0.5 * logvar) + mean**2 - 1.0 - logvar)",
        "the sign of log sigma^2":
            _HEAD + "    return 0.5 * (np.exp(logvar) + mean**2 - 1.0 + logvar)",
        "the mean, not its square":
            _HEAD + "    return 0.5 * (np.exp(logvar) + mean - 1.0 - logvar)",
        "without the -1": _HEAD + "    return 0.5 * (np.exp(logvar) + mean**2 - logvar)",
    },
}
