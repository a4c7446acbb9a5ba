"""Wrong answers to chapter 9's coding exercises: each must lose points (tests/test_assignments.py)."""

WRONG = {
    "ex-free-bits-charge": {
        "a constant": "def free_bits_charge(kl_per_dimension, free_bits):\n    return 2.5",
        "the floor on each image, then the mean":
            "def free_bits_charge(kl_per_dimension, free_bits):\n"
            "    return float(np.mean(np.sum(np.maximum(kl_per_dimension, free_bits), axis=1)))",
        "a sum over the batch for its mean":
            "def free_bits_charge(kl_per_dimension, free_bits):\n"
            "    return float(np.sum(np.maximum(np.sum(kl_per_dimension, axis=0), free_bits)))",
        "no floor (the analytic KL)":
            "def free_bits_charge(kl_per_dimension, free_bits):\n"
            "    return float(np.sum(np.mean(kl_per_dimension, axis=0)))",
        "min for max":
            "def free_bits_charge(kl_per_dimension, free_bits):\n"
            "    return float(np.sum(np.minimum(np.mean(kl_per_dimension, axis=0), free_bits)))",
    },
    "ex-warmup-schedule": {
        "a constant": "def warmup_weight(steps_taken, warmup_steps):\n    return 1.0",
        "off by one (beta > 0 on the first step)":
            "def warmup_weight(steps_taken, warmup_steps):\n"
            "    return min(1.0, (steps_taken + 1) / warmup_steps)",
        "no cap at 1":
            "def warmup_weight(steps_taken, warmup_steps):\n"
            "    return steps_taken / warmup_steps",
        "ramping down":
            "def warmup_weight(steps_taken, warmup_steps):\n"
            "    return max(0.0, 1.0 - steps_taken / warmup_steps)",
        "integer division":
            "def warmup_weight(steps_taken, warmup_steps):\n"
            "    return min(1, steps_taken // warmup_steps)",
    },
}
