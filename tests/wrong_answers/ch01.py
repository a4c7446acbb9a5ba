"""Wrong answers to chapter 1's coding exercises: each must lose points (tests/test_assignments.py)."""

WRONG = {
    "ex-ml-logmeanexp": {
        "a constant": "def log_mean_exp(values):\n    return -1000.0",
        "the naive formula (underflows)":
            "def log_mean_exp(values):\n    return np.log(np.mean(np.exp(values)))",
        "a sum for the mean":
            "def log_mean_exp(values):\n    m = np.max(values)\n"
            "    return m + np.log(np.sum(np.exp(values - m)))",
        "the maximum alone": "def log_mean_exp(values):\n    return np.max(values)",
    },
}
