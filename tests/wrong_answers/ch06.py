"""Wrong answers to chapter 6's coding exercises: each must lose points (tests/test_assignments.py)
and fail the chapter's visible check (tests/test_chapter_checks.py)."""

_AXIS = "def quantile_axis(m):\n"
_SLERP = "def slerp(z0, z1, t):\n"
_ANGLE = ("    z0, z1 = np.asarray(z0, dtype=float), np.asarray(z1, dtype=float)\n"
          "    cosine = z0 @ z1 / (np.linalg.norm(z0) * np.linalg.norm(z1))\n"
          "    angle = np.arccos(np.clip(cosine, -1.0, 1.0))\n")
_FALLBACK = "    if angle < 1e-6:\n        return (1 - t) * z0 + t * z1\n"

WRONG = {
    "ex-latent-quantiles": {
        "a constant": _AXIS + "    return np.zeros(m)",
        "an even grid in z between the right ends":
            _AXIS + "    from scipy import stats\n"
            "    return np.linspace(stats.norm.ppf(0.05), stats.norm.ppf(0.95), m)",
        "the probabilities themselves": _AXIS + "    return np.linspace(0.05, 0.95, m)",
        "one probability too many, the last dropped":
            _AXIS + "    from scipy import stats\n"
            "    return stats.norm.ppf(np.linspace(0.05, 0.95, m + 1)[:-1])",
        "the cdf for the quantile function":
            _AXIS + "    from scipy import stats\n"
            "    return stats.norm.cdf(np.linspace(0.05, 0.95, m))",
    },
    "ex-latent-slerp": {
        "linear interpolation": _SLERP + "    return (1 - t) * np.asarray(z0) + t * np.asarray(z1)",
        "the angle from the unnormalised dot product":
            _SLERP + "    z0, z1 = np.asarray(z0, dtype=float), np.asarray(z1, dtype=float)\n"
            "    angle = np.arccos(np.clip(z0 @ z1, -1.0, 1.0))\n" + _FALLBACK
            + "    return (np.sin((1 - t) * angle) * z0 + np.sin(t * angle) * z1) / np.sin(angle)",
        "t and 1 - t swapped":
            _SLERP + _ANGLE + _FALLBACK
            + "    return (np.sin(t * angle) * z0 + np.sin((1 - t) * angle) * z1) / np.sin(angle)",
        "no sin(Omega) denominator":
            _SLERP + _ANGLE + _FALLBACK
            + "    return np.sin((1 - t) * angle) * z0 + np.sin(t * angle) * z1",
        "no fallback for parallel ends (0/0)":
            _SLERP + _ANGLE
            + "    return (np.sin((1 - t) * angle) * z0 + np.sin(t * angle) * z1) / np.sin(angle)",
    },
}


def environment():
    """Names the definitions (the book's solution among them) run with, beyond np and tf."""
    from scipy import stats

    return {"stats": stats}
