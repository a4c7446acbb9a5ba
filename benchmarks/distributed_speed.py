"""Images per second of the CVAE's training, on one device beside N replicas, in one run.

Both set-ups live in this one process: the CPU is split into logical devices before TensorFlow
starts (or, where GPUs exist, each GPU is one device), one model is built on one device and one
under `MirroredStrategy` over all of them, and each is warmed up by an untimed epoch that traces
its graphs. Then rounds alternate them (one device, N replicas, one device, ...): each timed
epoch trains on the same images in global batches of 64. A shared machine's load drifts over
minutes; within a round both see about the same load, so each round's ratio is fair, and the
median ratio over rounds (with its min-max) is the number to quote, next to the machine's load.

Logical CPUs share one processor's cores: N replicas on them do the same arithmetic plus the
splitting and the all-reduce, so expect them to be no faster, and quite possibly slower.

    python benchmarks/distributed_speed.py [--rounds 5] [--images 2048] [--replicas 2]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from vae_helpers import distributed  # noqa: E402

BATCH_SIZE = 64


def load():
    """The 1-minute load average and the number of CPUs this process may use."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return os.getloadavg()[0], cpus


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--images", type=int, default=2048, help="images per timed epoch")
    parser.add_argument("--replicas", type=int, default=2, help="logical CPUs (no GPU)")
    args = parser.parse_args()

    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        distributed.use_logical_cpus(args.replicas)
    import keras

    from vae_helpers import config, models

    strategy, reason = distributed.choose_strategy()
    one_device = tf.distribute.OneDeviceStrategy(strategy.extended.worker_devices[0])
    images = distributed.worker_images(args.images)
    dataset = tf.data.Dataset.from_tensor_slices(images).batch(BATCH_SIZE).cache()
    runs = {}
    for name, run_on in (("1 device", one_device), (f"{strategy.num_replicas_in_sync} replicas", strategy)):
        with run_on.scope():
            config.set_seeds()
            model = models.CVAE(2, seed=config.SEED)
            model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.fit(dataset, epochs=1, verbose=0, shuffle=False)  # traces the graphs: not timed
        runs[name] = model

    load_before, cpus = load()
    rates = {name: [] for name in runs}
    for _ in range(args.rounds):
        for name, model in runs.items():
            start = time.perf_counter()
            model.fit(dataset, epochs=1, verbose=0, shuffle=False)
            rates[name].append(len(images) / (time.perf_counter() - start))
    load_after, _ = load()

    one, many = rates
    ratios = [b / a for a, b in zip(rates[one], rates[many])]
    print(f"strategy: {reason}")
    print(f"{args.rounds} rounds of one epoch of {len(images)} images in global batches of "
          f"{BATCH_SIZE}, each set-up in turn; TensorFlow {tf.__version__}, {cpus} CPU(s), "
          f"1-minute load {load_before:.1f} before and {load_after:.1f} after")
    print(f"{'set-up':<12} {'median images/s':>16} {'min':>8} {'max':>8}")
    for name, values in rates.items():
        print(f"{name:<12} {statistics.median(values):16.0f} {min(values):8.0f} {max(values):8.0f}")
    print(f"{many} / {one}: median {statistics.median(ratios):.2f} "
          f"(min {min(ratios):.2f}, max {max(ratios):.2f}) over {args.rounds} rounds")


if __name__ == "__main__":
    main()
