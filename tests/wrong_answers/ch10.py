"""Wrong answers to chapter 10's coding exercise: each must lose points (tests/test_assignments.py)."""


def _log_aggregate(components, reduce):
    """The source of a log_aggregate that computes log N(z_m; mean_n, var_n) as `components`
    (an (M, N) expression in z, means, logvars and diff) and returns `reduce` of it (`log_c`)."""
    return ("def log_aggregate(z, means, logvars):\n"
            "    z, means, logvars = (np.asarray(a, np.float64) for a in (z, means, logvars))\n"
            "    diff = z[:, None, :] - means[None, :, :]\n"
            f"    log_c = {components}\n"
            "    top = np.max(log_c, axis=1, keepdims=True)\n"
            f"    return {reduce}")


RIGHT_COMPONENTS = "-0.5 * np.sum(np.log(2 * np.pi) + logvars + diff**2 / np.exp(logvars), axis=-1)"
LOG_MEAN_EXP = "top[:, 0] + np.log(np.mean(np.exp(log_c - top), axis=1))"

WRONG = {
    "ex-aggregate-log-density": {
        "a constant (the prior's peak)":
            "def log_aggregate(z, means, logvars):\n"
            "    return np.full(len(z), -0.5 * np.log(2 * np.pi) * np.shape(z)[1])",
        "the log of a plain sum of exps (underflows)":
            _log_aggregate(RIGHT_COMPONENTS, "np.log(np.mean(np.exp(log_c), axis=1))"),
        "no - log N (the sum of the components for their mean)":
            _log_aggregate(RIGHT_COMPONENTS,
                           "top[:, 0] + np.log(np.sum(np.exp(log_c - top), axis=1))"),
        "the standard deviation where the variance belongs":
            _log_aggregate("-0.5 * np.sum(np.log(2 * np.pi) + logvars"
                           " + diff**2 / np.exp(logvars / 2), axis=-1)", LOG_MEAN_EXP),
        "the log-sum-exp over the points, not the posteriors":
            _log_aggregate(RIGHT_COMPONENTS,
                           "np.max(log_c, axis=0) + np.log(np.mean("
                           "np.exp(log_c - np.max(log_c, axis=0)), axis=0))"),
        "no log 2 pi term":
            _log_aggregate("-0.5 * np.sum(logvars + diff**2 / np.exp(logvars), axis=-1)",
                           LOG_MEAN_EXP),
        "the mean of the log-densities for the log of their mean":
            _log_aggregate(RIGHT_COMPONENTS, "np.mean(log_c, axis=1)"),
    },
}
