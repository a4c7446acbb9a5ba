"""Wrong answers to chapter 11's coding exercise: each must lose points (tests/test_assignments.py)."""

WRONG = {
    "ex-cb-mean": {
        "lambda (the Bernoulli's mean)":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float64)\n"
            "    return 1 / (1 + np.exp(-eta))",
        "the closed form without its eta = 0 case (NaN at 0)":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float64)\n"
            "    return 0.5 + 0.5 / np.tanh(eta / 2) - 1 / eta",
        "the formula in lambda, 1/2 at 0 only (lambda is 0 or 1 in float64 at large |eta|)":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float64)\n"
            "    lam = 1 / (1 + np.exp(-eta))\n"
            "    with np.errstate(all='ignore'):\n"
            "        mean = lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))\n"
            "    return np.where(eta == 0, 0.5, mean)",
        "a sign slip (the mean at -eta, 1 - E[x])":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float64)\n"
            "    small = np.abs(eta) < 1e-2\n"
            "    safe = np.where(small, 1.0, eta)\n"
            "    closed_form = 0.5 - 0.5 / np.tanh(safe / 2) + 1 / safe\n"
            "    return np.where(small, 0.5 - eta / 12 + eta**3 / 720, closed_form)",
        "artanh(2 lambda - 1) for artanh(1 - 2 lambda)":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float64)\n"
            "    small = np.abs(eta) < 1e-2\n"
            "    safe = np.where(small, 1.0, eta)\n"
            "    closed_form = 0.5 + 0.5 / np.tanh(safe / 2) + 1 / safe\n"
            "    return np.where(small, 0.5, closed_form)",
        "lambda / (2 lambda - 1) alone":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float64)\n"
            "    small = np.abs(eta) < 1e-2\n"
            "    safe = np.where(small, 1.0, eta)\n"
            "    return np.where(small, 0.5, 0.5 + 0.5 / np.tanh(safe / 2))",
        "the series near 0 for every logit":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float64)\n"
            "    return 0.5 + eta / 12 - eta**3 / 720 + eta**5 / 30240",
        "the right formula in float32":
            "def continuous_bernoulli_mean(logits):\n"
            "    eta = np.asarray(logits, np.float32)\n"
            "    small = np.abs(eta) < 1e-2\n"
            "    safe = np.where(small, np.float32(1), eta)\n"
            "    closed_form = 0.5 + 0.5 / np.tanh(safe / 2) - 1 / safe\n"
            "    return np.where(small, 0.5 + eta / 12 - eta**3 / 720, closed_form)",
    },
}
