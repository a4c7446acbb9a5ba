"""Wrong answers to chapter 5's coding exercises: each must lose points (tests/test_assignments.py)
and fail the chapter's visible check (tests/test_chapter_checks.py)."""

_GAP = 'def first_overfit_epoch(history, nats):\n'


def _step(body):
    """A MyCVAE whose train_step runs `body` (lines indented by 8)."""
    return ("class MyCVAE(models.CVAE):\n    def train_step(self, data):\n"
            + "".join(f"        {line}\n" for line in body.split("\n")))


_RIGHT_TAPE = ("with tf.GradientTape() as tape:\n"
               "    terms = self.terms(data)\n"
               "    loss = {loss}\n"
               "gradients = tape.gradient(loss, self.trainable_weights)\n"
               "{apply}\n"
               "return self.record(terms)")
_APPLY = "self.optimizer.apply(gradients, self.trainable_weights)"
_MEAN = "tf.reduce_mean(self.objective(terms))"

WRONG = {
    "ex-train-gap": {
        "a constant": _GAP + "    return 3",
        "epochs counted from 0":
            _GAP + "    for epoch, (a, b) in enumerate(zip(history['elbo'], history['val_elbo'])):\n"
            "        if a - b > nats:\n            return epoch\n    return 0",
        "test minus train":
            _GAP + "    for epoch, (a, b) in enumerate(zip(history['elbo'], history['val_elbo']), 1):\n"
            "        if b - a > nats:\n            return epoch\n    return 0",
        "the last epoch over the gap, not the first":
            _GAP + "    found = 0\n"
            "    for epoch, (a, b) in enumerate(zip(history['elbo'], history['val_elbo']), 1):\n"
            "        if a - b > nats:\n            found = epoch\n    return found",
        "at least nats, not more than":
            _GAP + "    for epoch, (a, b) in enumerate(zip(history['elbo'], history['val_elbo']), 1):\n"
            "        if a - b >= nats:\n            return epoch\n    return 0",
    },
    "ex-train-step": {
        "gradient ascent (the ELBO's sign)":
            _step(_RIGHT_TAPE.format(loss="-" + _MEAN, apply=_APPLY)),
        "the sum over the batch, not the mean":
            _step(_RIGHT_TAPE.format(loss="tf.reduce_sum(self.objective(terms))", apply=_APPLY)),
        "gradients never applied":
            _step(_RIGHT_TAPE.format(loss=_MEAN, apply="pass")),
        "the KL added to the ELBO, not subtracted":
            _step(_RIGHT_TAPE.format(
                loss="tf.reduce_mean(-(terms['reconstruction'] + terms['kl']))", apply=_APPLY)),
        "the mean over pixels too, not the ELBO per image":
            _step(_RIGHT_TAPE.format(loss=_MEAN + " / 784.0", apply=_APPLY)),
    },
}


def environment():
    """Names the definitions above run with, beyond np and tf."""
    import keras

    from vae_helpers import models

    return {"keras": keras, "models": models}
