"""Trains a small CVAE in its own process, for test_training's kill-and-resume test.

Usage: python training_worker.py CHECKPOINT EPOCHS OUTPUT.npz [KILL_EPOCH KILL_STEP]
With KILL_EPOCH and KILL_STEP the process sends itself SIGKILL at that step (both counted from 1),
so nothing after it runs: no cleanup, no flush, as when a Colab runtime is recycled.
"""

import os
import signal
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import numpy as np

from vae_helpers import config, data, models, training


class KillAt(keras.callbacks.Callback):
    def __init__(self, epoch, step):
        super().__init__()
        self.epoch, self.step = epoch, step

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if (self.current, batch + 1) == (self.epoch, self.step):
            os.kill(os.getpid(), signal.SIGKILL)


def main(checkpoint, epochs, output, kill_epoch=None, kill_step=None):
    config.set_seeds(config.SEED)
    mnist = data.load_mnist("bundled")
    train_data = data.make_dataset(mnist.train_images[:256], batch_size=32, binarization="dynamic")
    test_data = data.make_dataset(mnist.test_images[:64], batch_size=32, shuffle=False)
    callbacks = [KillAt(int(kill_epoch), int(kill_step))] if kill_epoch else []
    run = training.train(
        models.CVAE(latent_dim=2, seed=config.SEED), train_data, test_data, int(epochs),
        checkpoint=checkpoint, callbacks=callbacks, verbose=0,
    )
    np.savez(
        output,
        resumed_from=run.resumed_from,
        precision=run.precision,
        iterations=int(run.model.optimizer.iterations.numpy()),
        test_elbo=np.array(run.history["val_elbo"]),
        train_elbo=np.array(run.history["elbo"]),
        **{f"weight_{i}": w for i, w in enumerate(run.model.get_weights())},
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
