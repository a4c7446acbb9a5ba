"""Wrong answers to chapter 8's coding exercises: each must lose points (tests/test_assignments.py)
and fail the chapter's visible check (tests/test_chapter_checks.py)."""

WRONG = {
    "ex-beta-active": {
        "a constant": "def count_active(means, threshold=0.01):\n    return 2",
        "the standard deviation for the variance":
            "def count_active(means, threshold=0.01):\n"
            "    return int(np.sum(np.std(means, axis=0) > threshold))",
        "the variance over the wrong axis (of each image's code)":
            "def count_active(means, threshold=0.01):\n"
            "    return int(np.sum(np.var(means, axis=1) > threshold))",
        "the threshold argument ignored":
            "def count_active(means, threshold=0.01):\n"
            "    return int(np.sum(np.var(means, axis=0) > 0.01))",
        "the inactive units counted":
            "def count_active(means, threshold=0.01):\n"
            "    return int(np.sum(np.var(means, axis=0) <= threshold))",
        "the size of the mean for its variation":
            "def count_active(means, threshold=0.01):\n"
            "    return int(np.sum(np.abs(np.mean(means, axis=0)) > threshold))",
    },
    "ex-beta-rd": {
        "rate and distortion swapped":
            "def rate_distortion_points(betas, kl, log_px_given_z):\n"
            "    rate, distortion = kl.mean(axis=1), -log_px_given_z.mean(axis=1)\n"
            "    return distortion, rate, distortion + np.asarray(betas) * rate",
        "a sum over the images for the mean":
            "def rate_distortion_points(betas, kl, log_px_given_z):\n"
            "    rate, distortion = kl.sum(axis=1), -log_px_given_z.sum(axis=1)\n"
            "    return rate, distortion, distortion + np.asarray(betas) * rate",
        "beta applied to the distortion":
            "def rate_distortion_points(betas, kl, log_px_given_z):\n"
            "    rate, distortion = kl.mean(axis=1), -log_px_given_z.mean(axis=1)\n"
            "    return rate, distortion, np.asarray(betas) * distortion + rate",
        "the wrong sign of the log-likelihood":
            "def rate_distortion_points(betas, kl, log_px_given_z):\n"
            "    rate, distortion = kl.mean(axis=1), log_px_given_z.mean(axis=1)\n"
            "    return rate, distortion, distortion + np.asarray(betas) * rate",
        "the mean over the betas (the wrong axis)":
            "def rate_distortion_points(betas, kl, log_px_given_z):\n"
            "    rate, distortion = kl.mean(axis=0), -log_px_given_z.mean(axis=0)\n"
            "    return rate, distortion, distortion + np.mean(betas) * rate",
    },
}
