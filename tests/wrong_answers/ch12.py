"""Wrong answers to chapter 12's coding exercises: each must lose points (tests/test_assignments.py)."""

WRONG = {
    "ex-decoder-input": {
        "the codes alone":
            "def decoder_input(z, labels):\n"
            "    return np.asarray(z, np.float32)",
        "the label before the codes":
            "def decoder_input(z, labels):\n"
            "    one_hot = np.eye(10, dtype=np.float32)[np.asarray(labels)]\n"
            "    return np.concatenate([one_hot, np.asarray(z, np.float32)], axis=1)",
        "the label as one number, not one-hot":
            "def decoder_input(z, labels):\n"
            "    column = np.asarray(labels, np.float32)[:, None]\n"
            "    return np.concatenate([np.asarray(z, np.float32), column], axis=1)",
        "float64, not what the decoder reads":
            "def decoder_input(z, labels):\n"
            "    one_hot = np.eye(10)[np.asarray(labels)]\n"
            "    return np.concatenate([np.asarray(z, np.float64), one_hot], axis=1)",
    },
    "ex-unlabelled-bound": {
        "no entropy":
            "def unlabelled_bound(q, bounds):\n"
            "    return np.sum(np.asarray(q) * np.asarray(bounds), axis=1)",
        "the best label's bound (a max, not the sum)":
            "def unlabelled_bound(q, bounds):\n"
            "    return np.max(np.asarray(bounds), axis=1)",
        "the entropy with the wrong sign":
            "def unlabelled_bound(q, bounds):\n"
            "    q, bounds = np.asarray(q, np.float64), np.asarray(bounds, np.float64)\n"
            "    return np.sum(q * bounds, 1) + np.sum(q * np.log(np.clip(q, 1e-300, None)), 1)",
        "0 log 0 taken as nan":
            "def unlabelled_bound(q, bounds):\n"
            "    q, bounds = np.asarray(q, np.float64), np.asarray(bounds, np.float64)\n"
            "    with np.errstate(divide='ignore', invalid='ignore'):\n"
            "        return np.sum(q * bounds, 1) - np.sum(q * np.log(q), 1)",
        "the plain mean of the bounds plus log 10 (right only for a uniform q)":
            "def unlabelled_bound(q, bounds):\n"
            "    return np.mean(np.asarray(bounds, np.float64), axis=1) + np.log(10)",
    },
}
