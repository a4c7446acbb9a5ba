"""Wrong answers to chapter 13's coding exercises: each must lose points (tests/test_assignments.py)."""

WRONG = {
    "ex-dist-loss": {
        "a constant": "def replica_loss(per_image, global_batch_size):\n    return 1.5",
        "the replica's own mean":
            "def replica_loss(per_image, global_batch_size):\n"
            "    return tf.reduce_mean(per_image)",
        "half the replica's mean (right only for equal halves)":
            "def replica_loss(per_image, global_batch_size):\n"
            "    return tf.reduce_mean(per_image) / 2",
        "the sum, undivided":
            "def replica_loss(per_image, global_batch_size):\n"
            "    return tf.reduce_sum(per_image)",
    },
}
