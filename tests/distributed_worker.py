"""vae_helpers.distributed's worker with test hooks, for test_distributed.

Usage: python distributed_worker.py OUTPUT CHECKPOINT EPOCHS [KILL_IN_SAVE]
Started by distributed.launch_workers (TF_CONFIG set: one worker of a cluster) or alone (no
TF_CONFIG: the one-process reference run). Trains models.CVAE(2) on 256 images in global batches
of 64 with SGD, its q(z|x) made a near point mass (distributed.point_mass) so that one process
and two can be compared weight for weight. It also writes how many checkpoints this process saved
(saves-INDEX.npy) and the weights it started from (initial-INDEX.npz), so that the test can scale
its tolerance to the weight change.
With KILL_IN_SAVE = N, the chief sends itself SIGKILL in its Nth save, when the new checkpoint is
half written (the model is in the temporary file, the run record not yet), as a recycled runtime
would: no cleanup runs.
"""

import json
import os
import signal
import sys
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from vae_helpers import checkpoints, config, distributed, models


def main(output, checkpoint, epochs, kill_in_save=0):
    index = 0
    if os.environ.get("TF_CONFIG"):
        index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
    saves = []
    save = checkpoints.save

    def counting_save(path, model, history, *args, **kwargs):
        saves.append(path)
        if len(saves) == int(kill_in_save):
            # The model is already in the temporary file when the run record is appended.
            def die(*_args, **_kwargs):
                os.kill(os.getpid(), signal.SIGKILL)

            zipfile.ZipFile.writestr = die
        return save(path, model, history, *args, **kwargs)

    checkpoints.save = counting_save

    def make_model():
        model = distributed.point_mass(models.CVAE(2, seed=config.SEED))
        os.makedirs(output, exist_ok=True)
        np.savez(os.path.join(output, f"initial-{index}.npz"), *model.get_weights())
        return model

    distributed.run_worker(
        output, epochs=int(epochs), num_images=256, batch_size=64,
        learning_rate=1e-3, checkpoint=checkpoint, make_model=make_model,
    )
    np.save(os.path.join(output, f"saves-{index}.npy"), len(saves))


if __name__ == "__main__":
    main(*sys.argv[1:])
