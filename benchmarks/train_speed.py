"""Training speed that a noisy machine cannot fool: the TF CVAE tutorial's loop beside the book's
`training.train` and variants of it, interleaved in rounds.

Every configuration trains the same model (CVAE, latent_dim 2) on the same data (the bundled digits,
statically binarised) at batch 32 from the same seed. One round runs each configuration once, in
order (A B C ... A B C ...), each in a fresh process (thread settings only take effect before
TensorFlow starts, and no run inherits another's memory or traced graphs): one untimed epoch that
traces the graphs, then `--timed-epochs` timed ones, then the test ELBO the run reached. A shared
machine's load drifts over minutes; within one round every configuration sees about the same load,
so each round's ratio to the tutorial loop is a fair one, and the median over rounds (with its
min-max) is the number to quote.

    python benchmarks/train_speed.py [--rounds 5] [--timed-epochs 6] [--configs tutorial book ...]

Six timed epochs by default (24,000 images, about 10 s a run on 2 CPUs): with fewer, the tutorial
loop's own spread from run to run moved the median ratio between two runs on a quiet machine.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CONFIGS = {
    "tutorial": "the TF tutorial's loop: tf.function step, Python loop over batches",
    "tutorial+prefetch": "the tutorial's loop, its pipeline cached and prefetched",
    "book": "training.train (model.fit), steps_per_execution=32, prefetched pipeline, float32",
    "book+bf16": "book with VAE_PRECISION=mixed_bfloat16: bfloat16 inside the halves, float32 weights, "
                 "logits and losses (vae_helpers.precision; what the book trains in on a CPU with bfloat16 units)",
    "book+bf16-all": "book with Keras' global mixed_bfloat16 policy: every layer in bfloat16, the logits too",
    "book+1thread": "book with one intra-op and one inter-op thread",
    "book+spe1": "book with steps_per_execution=1 (one host round trip per batch)",
}
DEFAULT_CONFIGS = ("tutorial", "tutorial+prefetch", "book", "book+bf16", "book+1thread")
LEARNING_RATE = 1e-3


def tutorial_loop(train_images, epochs, prefetch=False):
    """The TF tutorial's training code, unchanged but for using this book's CVAE and loss.
    Returns the model and the (clock, CPU) seconds of each epoch's training."""
    import tensorflow as tf

    from vae_helpers import config, losses, models

    model = models.CVAE(2, seed=config.SEED)
    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE)
    train_dataset = tf.data.Dataset.from_tensor_slices(train_images)
    if prefetch:
        train_dataset = train_dataset.cache()
    train_dataset = train_dataset.shuffle(len(train_images), seed=config.SEED).batch(32)
    if prefetch:
        train_dataset = train_dataset.prefetch(tf.data.AUTOTUNE)

    @tf.function
    def train_step(model, x, optimizer):
        with tf.GradientTape() as tape:
            loss = losses.compute_loss(model, x)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    seconds = []
    for _ in range(epochs):
        start = _clocks()
        for train_x in train_dataset:
            train_step(model, train_x, optimizer)
        float(optimizer.iterations.numpy())  # wait for the last step before reading the clock
        seconds.append(_clocks() - start)
    return model, seconds


def _clocks():
    """(clock seconds, CPU seconds of this process's threads): on a shared machine the clock also
    counts other processes' time, the CPU seconds do not."""
    return np.array([time.perf_counter(), time.process_time()])


def book_path(train_images, epochs, steps_per_execution=32):
    """`training.train` as the book calls it (without its test pass, so that both paths time the
    same training). Returns the model and the (clock, CPU) seconds of each epoch's training."""
    import keras

    from vae_helpers import config, data, models, training

    model = models.CVAE(2, seed=config.SEED)
    train_data = data.make_dataset(train_images, batch_size=32, binarization="static", seed=config.SEED)
    # A one-batch test set: train() needs one; its pass is outside the timed span.
    test_data = data.make_dataset(train_images[:32], batch_size=32, binarization="static", shuffle=False)
    seconds, start = [], [0.0]

    class TrainClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            start[0] = _clocks()

        def on_test_begin(self, logs=None):
            seconds.append(_clocks() - start[0])

    training.train(model, train_data, test_data, epochs, learning_rate=LEARNING_RATE,
                   steps_per_execution=steps_per_execution, callbacks=[TrainClock()], verbose=0)
    return model, seconds


def worker(name, timed_epochs):
    """One configuration, one run, in this process: prints a JSON line of its measurements."""
    if name == "book+1thread":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    from vae_helpers import config, data, evaluation

    # The book picks its precision from the CPU (vae_helpers.precision): pinned here, per config.
    os.environ["VAE_PRECISION"] = "mixed_bfloat16" if name == "book+bf16" else "float32"
    if name == "book+bf16-all":
        import keras

        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    config.set_seeds()
    mnist = data.load_mnist("bundled")
    train_images = data.binarize_static(mnist.train_images)
    test_images = data.binarize_static(mnist.test_images)
    epochs = 1 + timed_epochs  # the first traces the graphs: not timed
    if name.startswith("tutorial"):
        model, seconds = tutorial_loop(train_images, epochs, prefetch=name == "tutorial+prefetch")
    else:
        model, seconds = book_path(train_images, epochs, steps_per_execution=1 if name == "book+spe1" else 32)
    if name == "book+bf16-all":
        # Scored as every other config is: by a float32 model with the trained weights.
        import keras

        from vae_helpers import models

        keras.mixed_precision.set_global_policy("float32")
        trained, model = model, models.CVAE(2, seed=config.SEED)
        model.set_weights(trained.get_weights())
    elbo, error = evaluation.summarize(evaluation.iwae(model, test_images, 1, seed=config.SEED))
    clock, cpu = np.sum(seconds[1:], axis=0)
    print(json.dumps({
        "config": name, "images_per_s": len(train_images) * timed_epochs / clock,
        "images_per_cpu_s": len(train_images) * timed_epochs / cpu,
        "elbo": elbo, "elbo_error": error, "epochs": epochs,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # Linux: KiB
    }))


def run_worker(name, timed_epochs):
    result = subprocess.run([sys.executable, __file__, "--worker", name, "--timed-epochs", str(timed_epochs)],
                            capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"config": name, "error": reason[:200]}
    return json.loads(lines[-1])


def bfloat16_units():
    """The CPU's bfloat16 instructions, from its flags (`vae_helpers.precision.cpu_flags`; [] on a
    CPU without them, where Keras' mixed_bfloat16 policy is emulated and slow), or None where the
    flags cannot be read."""
    from vae_helpers import precision

    flags = precision.cpu_flags()
    return None if flags is None else sorted(flag for flag in flags if "bf16" in flag)


def _spread(values, fmt):
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timed-epochs", type=int, default=6, help="timed epochs of 4,000 images per run")
    parser.add_argument("--configs", nargs="+", choices=sorted(CONFIGS), default=list(DEFAULT_CONFIGS),
                        help="the first is the reference of the ratios")
    parser.add_argument("--worker", choices=sorted(CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.timed_epochs < 1 or args.rounds < 1:
        parser.error("--rounds and --timed-epochs must be at least 1")
    if args.worker:
        worker(args.worker, args.timed_epochs)
        return

    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, {len(os.sched_getaffinity(0))} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}; the bundled digits (4,000 train / 1,000 test), batch 32, latent_dim 2")
    units = bfloat16_units()
    print("CPU bfloat16 units: " + ("unknown (no /proc/cpuinfo)" if units is None else
                                    ", ".join(units) if units else "none (bfloat16 is emulated here)"))
    print(f"{args.rounds} rounds of {' '.join(args.configs)}, each run: 1 untimed + {args.timed_epochs} timed "
          "epochs in a fresh process\n", flush=True)
    results = {name: [] for name in args.configs}
    for round_number in range(1, args.rounds + 1):
        for name in args.configs:
            row = run_worker(name, args.timed_epochs)
            results[name].append(row)
            print(f"  round {round_number}: {name:<18} " + (f"failed: {row['error']}" if "error" in row else
                  f"{row['images_per_s']:6.0f} images/s, test ELBO {row['elbo']:.2f}"), file=sys.stderr, flush=True)

    reference = args.configs[0]
    print(f"{'configuration':<18} {'images/s, median (min-max)':>28} {'ratio to ' + reference + ', median (min-max)':>38} "
          f"{'ratio per CPU second':>24} {'test ELBO, median (min-max)':>30} {'peak RSS MB':>11}")
    for name in args.configs:
        failed = [row["error"] for row in results[name] if "error" in row]
        if failed:
            print(f"{name:<18} failed in {len(failed)} of {args.rounds} rounds: {failed[0]}")
        rows = [row for row in results[name] if "error" not in row]
        if not rows:
            continue
        pairs = [(row, ref) for row, ref in zip(results[name], results[reference]) if "error" not in row and "error" not in ref]
        ratios = [row["images_per_s"] / ref["images_per_s"] for row, ref in pairs]
        cpu_ratios = [row["images_per_cpu_s"] / ref["images_per_cpu_s"] for row, ref in pairs]
        print(f"{name:<18} {_spread([r['images_per_s'] for r in rows], '{:.0f}'):>28} {_spread(ratios, '{:.2f}x'):>38} "
              f"{_spread(cpu_ratios, '{:.2f}x'):>24} {_spread([r['elbo'] for r in rows], '{:.2f}'):>30} "
              f"{max(r['peak_rss_mb'] for r in rows):11.0f}")
    errors = [row["elbo_error"] for rows in results.values() for row in rows if "elbo_error" in row]
    print(f"\nimages/s: training images per second over the timed epochs (training only: no test pass);")
    print("ratio: each round's images/s over the reference's in the same round (paired), then the median;")
    print("ratio per CPU second: the same with the process's CPU seconds in place of the clock's (the clock")
    print("  also counts other processes' time on a shared machine; TensorFlow's idle threads spin a little);")
    print(f"test ELBO: single-sample, nats per image, after {1 + args.timed_epochs} epochs; its standard error "
          f"over the 1,000 test images is about {statistics.median(errors):.2f}." if errors else "")
    for name in args.configs:
        print(f"  {name}: {CONFIGS[name]}")


if __name__ == "__main__":
    main()
