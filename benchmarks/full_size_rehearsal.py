"""Full size, rehearsed: how long the published book (full mode, full MNIST) takes to build here.

Every full-mode run recorded so far used the 5,000-digit bundled subset. Full MNIST (60,000 / 10,000
images) cannot be downloaded on an offline machine, but Debian's `dataset-fashion-mnist` package
(apt-get install dataset-fashion-mnist) installs Fashion-MNIST: the same format (idx files), the
same image size and the same counts. Only the time is rehearsed, not the book's numbers.

    python benchmarks/full_size_rehearsal.py [--idx-dir DIR] [--record]

1. Converts the four idx files to one .npz in the Keras MNIST layout (uint8 x_train (60000, 28, 28),
   ...), and points $VAE_MNIST at it, so `data.load_mnist()`, the call every chapter makes, loads it.
2. Times one full-mode epoch of every training run the chapters make (`RUNS`, through
   `runs.book_model`, and chapters 9's and 11's `VARIANTS`, through `runs.train_model`; checkpoint and test
   pass included) at full size, and two epochs of each on the bundled subset, whose second epoch
   says what the first one's tracing costs.
3. Times chapter 7's size-dependent evaluation (IWAE over the test set) on `--eval-images` test
   images; its cost grows linearly with their number, so it is scaled to each test set's size.
4. Projects the full-MNIST build: the recorded full-mode chapter times on the subset
   (results/chapter_times_cpu.json), less the subset's training and evaluation, plus full size's.

Times are the process's CPU seconds (all its threads), not the clock's: on a machine shared with
other work the clock counts their time too, the CPU seconds do not. On a quiet machine the clock
runs at most that long (TensorFlow's threads overlap on the 2 cores), so the projection is an
upper bound for 2 CPUs. Clock times are recorded beside them.

--record writes results/full_size_rehearsal_cpu.json and the projection on the landing page.
"""

import argparse
import datetime
import gzip
import json
import os
import pathlib
import platform
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import chapter_map  # noqa: E402

RUNS = (
    # (latent_dim, beta, binarization): one per distinct book_model call. Chapters 5-7 train the
    # first three (6 and 7 load what 5 trained); chapter 8 sweeps beta (1.0 is chapter 5's model).
    (2, 1.0, "dynamic"),
    (16, 1.0, "dynamic"),
    (16, 1.0, "static"),
    (16, 0.25, "dynamic"),
    (16, 4.0, "dynamic"),
    (16, 16.0, "dynamic"),
)
VARIANTS = ("β = 1", "warm-up", "free bits", "bernoulli", "continuous_bernoulli", "gaussian", "conditional", "m2")
"""The runs through `runs.train_model`: chapter 9's closed-form-KL baseline and its two cures, then
chapter 11's, one per decoder likelihood, then chapter 12's conditional VAE and M2. Chapter 9 trains
each of the first three with `len(CHAPTER_9["SEEDS"])` seeds for `runs.experiment_epochs` epochs,
chapter 12 M2 with `len(CHAPTER_12["SEEDS"])` seeds and once more for `epochs_for // 5`; one seed is timed here
(the seeds cost the same) and the projection counts it once per seed."""
CHAPTER_12 = {"SEEDS": (0, 1, 2), "LABELLED": 100}
"""The settings chapter 12 trains M2 with (tests/test_full_size.py reads them there). Its other
costs (a logistic regression, the labelled-only classifiers of 500 steps) do not grow with the
number of test images, and little with the training set's."""
CHAPTER_9 = {"LATENT_DIM": 32, "FREE_BITS": 0.5, "SEEDS": (0, 1, 2), "likelihood latent_dim": 16}
"""The settings chapters 9 and 11 train their variants with (tests/test_full_size.py reads them
there)."""
EVALUATION = (
    # (latent_dim, binarization of the model, test set, k) for each IWAE pass over a whole test set
    # in chapter 7 on a CPU (k = 1,000 and 5,000 run on a GPU only).
    *((latent, "dynamic", "dynamic", k) for latent in (2, 16) for k in (1, 10, 100)),
    *((16, model, test, 1) for model in ("static", "dynamic") for test in ("static", "dynamic")),
)
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte",
}
RECORD = chapter_map.full_size_path()


def read_idx(path):
    """An idx file (MNIST's format, optionally gzipped) as a numpy array: uint8 images (N, 28, 28)
    or uint8 labels (N,)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an idx file of unsigned bytes (magic {raw[:4].hex()})")
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    body = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, body holds {body.size} bytes: truncated?")
    return body.reshape(shape)


def convert_idx(directory, output):
    """Writes the four MNIST-format idx files in `directory` (names as MNIST's, .gz or not) to one
    .npz in the Keras layout at `output`, and returns `output`."""
    arrays = {}
    for key, stem in IDX_FILES.items():
        found = [directory / name for name in (stem + ".gz", stem) if (directory / name).exists()]
        if not found:
            raise FileNotFoundError(f"No {stem}(.gz) in {directory}: pass --idx-dir with MNIST-format files.")
        arrays[key] = read_idx(found[0])
    np.savez(output, **arrays)
    return output


def default_idx_dir():
    """Where Debian's dataset-fashion-mnist package put its files."""
    try:
        listing = subprocess.run(["dpkg", "-L", "dataset-fashion-mnist"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        sys.exit("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist, or pass --idx-dir.")
    for line in listing.stdout.splitlines():
        if line.endswith("train-images-idx3-ubyte.gz"):
            return pathlib.Path(line).parent
    sys.exit("dataset-fashion-mnist lists no train-images-idx3-ubyte.gz: pass --idx-dir.")


def _clocks():
    return np.array([time.process_time(), time.perf_counter()])


def time_epochs(train, epochs):
    """CPU and clock seconds, (epochs, 2), of the first `epochs` epochs of one run, each from the
    end of the previous one (the first from the call, so it holds building the pipelines and
    tracing), and the model they trained. `train(on_epoch_end)` starts the run."""
    marks = [_clocks()]

    def lap(epoch, model, logs):
        marks.append(_clocks())
        if epoch >= epochs:
            model.stop_training = True

    model = train(lap).model
    return np.diff(marks, axis=0), model


def book_run(mnist, latent_dim, beta, binarization):
    """`train(on_epoch_end)` of one of `RUNS`, as the chapters call it."""
    from vae_helpers import runs

    return lambda lap: runs.book_model(mnist, latent_dim, beta=beta, binarization=binarization,
                                       on_epoch_end=lap, verbose=0)


def variant_run(mnist, name):
    """`train(on_epoch_end)` of one of `VARIANTS`, built as chapter 9 builds it."""
    from vae_helpers import config, models, runs

    config.set_seeds()
    epochs = run_plan(name, mnist)[1]
    binarization = "dynamic"
    if name == "conditional":
        model = models.ConditionalVAE(16, seed=config.SEED)
    elif name == "m2":
        num_train = len(runs.train_images(mnist))
        labelled = CHAPTER_12["LABELLED"]
        model = models.SemiSupervisedVAE(16, labelled=labelled, alpha=0.1 * num_train,
                                         seed=config.SEED + CHAPTER_12["SEEDS"][0])
    elif name == "β = 1":
        model = models.AnalyticKLCVAE(CHAPTER_9["LATENT_DIM"], seed=config.SEED)
    elif name == "warm-up":
        steps_per_epoch = -(-len(runs.train_images(mnist)) // runs.BATCH_SIZE)
        warmup_steps = epochs * steps_per_epoch // 4
        model = models.WarmupCVAE(CHAPTER_9["LATENT_DIM"], warmup_steps, seed=config.SEED)
    elif name == "free bits":
        model = models.FreeBitsCVAE(CHAPTER_9["LATENT_DIM"], CHAPTER_9["FREE_BITS"], seed=config.SEED)
    else:
        model = models.LikelihoodCVAE(CHAPTER_9["likelihood latent_dim"], name, seed=config.SEED)
        binarization = "as_is"
    return lambda lap: runs.train_model(mnist, model, binarization=binarization, on_epoch_end=lap, verbose=0,
                                        epochs=epochs)


def run_plan(name, mnist):
    """(copies, epochs) of a `VARIANTS` run on `mnist` in the build: the cures train once per seed
    for `runs.experiment_epochs`, M2 once per seed for a fifth of `runs.epochs_for`, the
    likelihood variants and the conditional VAE once for `runs.epochs_for`."""
    from vae_helpers import runs

    if name in VARIANTS[:3]:
        return len(CHAPTER_9["SEEDS"]), runs.experiment_epochs(mnist)
    if name == "m2":  # one per seed, and one more at Kingma et al.'s weight (alpha only differs)
        return len(CHAPTER_12["SEEDS"]) + 1, max(1, runs.epochs_for(mnist) // 5)
    return 1, runs.epochs_for(mnist)


def time_evaluation(mnist, models, count):
    """CPU and clock seconds, (2,), chapter 7's IWAE passes take on the first `count` test images
    of `mnist`, with `models` {(latent_dim, binarization): CVAE}."""
    from vae_helpers import evaluation, runs

    test_sets = {name: runs.test_images(mnist, name)[:count] for name in ("static", "dynamic")}
    start = _clocks()
    for latent, model, test, k in EVALUATION:
        evaluation.iwae(models[latent, model], test_sets[test], k)
    return _clocks() - start


def rehearse(mnist, subset, eval_images):
    from vae_helpers import runs

    rows, models = [], {"subset": {}, "full": {}}
    for latent, beta, binarization in RUNS:
        row, models["subset"][latent, beta, binarization], models["full"][latent, beta, binarization] = _time_run(
            {"latent_dim": latent, "beta": beta, "binarization": binarization},
            book_run(subset, latent, beta, binarization), book_run(mnist, latent, beta, binarization))
        rows.append(row)
    for name in VARIANTS:
        (copies, subset_epochs), (_, full_epochs) = run_plan(name, subset), run_plan(name, mnist)
        rows.append(_time_run({"variant": name, "copies": copies, "subset_epochs": subset_epochs,
                               "full_epochs": full_epochs},
                              variant_run(subset, name), variant_run(mnist, name))[0])
    evaluation = {}
    for name, data in (("subset", subset), ("full", mnist)):
        trained = {(latent, binarization): model for (latent, beta, binarization), model in models[name].items()
                   if beta == 1.0}
        count = min(eval_images, len(runs.test_images(data)))
        (seconds, clock) = time_evaluation(data, trained, count)
        scale = len(runs.test_images(data)) / count
        evaluation[name] = {"timed_images": count, "test_images": len(runs.test_images(data)),
                            "timed_s": round(seconds, 2), "scaled_s": round(seconds * scale, 1),
                            "clock_s": round(clock, 2)}
        print(f"  chapter 7 evaluation, {name}: {seconds:.1f} CPU s on {count} test images, "
              f"{seconds * scale:.0f} s scaled to {len(runs.test_images(data)):,}", flush=True)
    return rows, evaluation


def _time_run(row, on_subset, at_full_size):
    """Two subset epochs and one full-size epoch of one run: its row, and the two trained models."""
    (first_subset, later_subset), subset_model = time_epochs(on_subset, 2)
    (first_full,), full_model = time_epochs(at_full_size, 1)
    row.update({"subset_first_epoch_s": round(first_subset[0], 2), "subset_epoch_s": round(later_subset[0], 2),
                "full_first_epoch_s": round(first_full[0], 2),
                "clock_s": {"subset_first_epoch": round(first_subset[1], 2), "subset_epoch": round(later_subset[1], 2),
                            "full_first_epoch": round(first_full[1], 2)}})
    name = row.get("variant") or f"latent {row['latent_dim']:2d}, beta {row['beta']:5g}, {row['binarization']:7s}"
    print(f"  {name:<31}: subset epochs {first_subset[0]:5.1f} then {later_subset[0]:5.1f} CPU s; full size "
          f"first epoch {first_full[0]:6.1f} CPU s ({first_full[1]:.1f} s on the clock)", flush=True)
    return row, subset_model, full_model


def chapters_without_training():
    """The chapters that call no `book_model`: none of their time depends on the data's size."""
    return sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb") if "book_model(" not in path.read_text())


def project(rows, evaluation, chapter_seconds, full_epochs, subset_epochs, untrained=()):
    """Seconds of a full-MNIST build: the recorded chapter times (clock) with the subset's training
    and evaluation (CPU seconds, timed now) replaced by full size's. A run's later epochs cost its
    first less the tracing and set-up that the subset's first and second epochs differ by. A row
    may say its own "copies" (runs of it: seeds) and "full_epochs" / "subset_epochs". CPU
    seconds exceed a quiet machine's clock, so what remains of the recorded times is at least the
    chapters that train nothing (`untrained`)."""
    subset_training = sum(
        r.get("copies", 1) * (r["subset_first_epoch_s"] + (r.get("subset_epochs", subset_epochs) - 1) * r["subset_epoch_s"])
        for r in rows)
    full_training = 0.0
    for r in rows:
        setup = max(0.0, r["subset_first_epoch_s"] - r["subset_epoch_s"])
        later = (r.get("full_epochs", full_epochs) - 1) * max(r["full_first_epoch_s"] - setup, 0.0)
        full_training += r.get("copies", 1) * (r["full_first_epoch_s"] + later)
    other = sum(chapter_seconds.values()) - subset_training - evaluation["subset"]["scaled_s"]
    other = max(other, sum(chapter_seconds.get(name, 0.0) for name in untrained), 0.0)
    return {"subset_training_s": round(subset_training, 1), "full_training_s": round(full_training, 1),
            "other_s": round(other, 1),
            "build_s": round(other + full_training + evaluation["full"]["scaled_s"], 1)}


def reproject():
    """Projects again from the recorded timings, with the chapter times recorded now."""
    record = json.loads(RECORD.read_text())
    chapter_seconds = json.loads(chapter_map.record_path("cpu").read_text())["seconds"]
    record["projection"] = project(record["runs"], record["evaluation"], chapter_seconds, record["full_epochs"],
                                   record["subset_epochs"], chapters_without_training())
    RECORD.write_text(json.dumps(record, indent=2) + "\n")
    chapter_map.update_landing_page()
    print(f"projected full-MNIST book build: {record['projection']['build_s']:.0f} s; "
          f"recorded: {RECORD.relative_to(ROOT)}, {chapter_map.LANDING_PAGE.relative_to(ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--idx-dir", type=pathlib.Path, help="MNIST-format idx files (default: Debian's Fashion-MNIST)")
    parser.add_argument("--eval-images", type=int, default=500, help="test images chapter 7's evaluation is timed on")
    parser.add_argument("--record", action="store_true", help=f"write {RECORD.relative_to(ROOT)} and the landing page")
    parser.add_argument("--reproject", action="store_true",
                        help="time nothing: project again from the recorded timings (after new chapter times)")
    args = parser.parse_args()
    if args.reproject:
        reproject()
        return
    if args.eval_images < 1:
        parser.error("--eval-images must be at least 1")
    idx_dir = args.idx_dir or default_idx_dir()
    stand_in = ("Fashion-MNIST (Debian's dataset-fashion-mnist)" if args.idx_dir is None
                else f"the MNIST-format files in {idx_dir.name}")
    # VAE_FETCH_MODELS=0: every run is timed training, never a download of a published model.
    os.environ.update(VAE_QUICK="0", VAE_FETCH_MODELS="0",
                      TF_CPP_MIN_LOG_LEVEL=os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3"))

    with tempfile.TemporaryDirectory() as scratch:
        npz = convert_idx(idx_dir, pathlib.Path(scratch) / "full_size.npz")
        os.environ["VAE_MNIST"] = str(npz)
        os.environ["VAE_CHECKPOINT_DIR"] = scratch
        import tensorflow as tf

        from vae_helpers import data, runs

        mnist = data.load_mnist()  # what every chapter calls: $VAE_MNIST
        subset = data.load_mnist("bundled")
        full_epochs, subset_epochs = runs.epochs_for(mnist), runs.epochs_for(subset)
        print(f"data: {mnist.description}; {full_epochs} full-mode epochs (subset: {subset_epochs})")
        load_start = os.getloadavg()[0]
        print(f"TensorFlow {tf.__version__}, {len(os.sched_getaffinity(0))} CPUs; load average "
              f"{load_start:.1f} at the start", flush=True)
        rows, evaluation = rehearse(mnist, subset, args.eval_images)
        load = os.getloadavg()[0]

    chapter_seconds = json.loads(chapter_map.record_path("cpu").read_text())["seconds"]
    projection = project(rows, evaluation, chapter_seconds, full_epochs, subset_epochs, chapters_without_training())
    print(f"\nrecorded full-mode chapters on the subset: {sum(chapter_seconds.values()):.0f} s, of which "
          f"training {projection['subset_training_s']:.0f} s and chapter 7's evaluation "
          f"{evaluation['subset']['scaled_s']:.0f} s (as timed now)")
    print(f"full size: training {projection['full_training_s']:.0f} s ({full_epochs} epochs x {len(rows)} runs), "
          f"evaluation {evaluation['full']['scaled_s']:.0f} s, the rest {projection['other_s']:.0f} s")
    print(f"projected full-MNIST book build: {projection['build_s']:.0f} s = {projection['build_s'] / 60:.0f} min "
          f"(load average {load:.1f} at the end)")
    if args.record:
        record = {
            "device": f"{len(os.sched_getaffinity(0))} CPU cores ({platform.machine()}), no GPU",
            "date": datetime.date.today().isoformat(), "tensorflow": tf.__version__,
            "data": f"{stand_in} as a stand-in for full MNIST "
                    f"({len(mnist.train_images):,} train / {len(mnist.test_images):,} test images)",
            "full_epochs": full_epochs, "subset_epochs": subset_epochs, "runs": rows,
            "evaluation": evaluation, "projection": projection, "seconds": "CPU seconds of the process",
            "load_average": [round(load_start, 1), round(load, 1)],
        }
        RECORD.write_text(json.dumps(record, indent=2) + "\n")
        chapter_map.update_landing_page()
        print(f"recorded: {RECORD.relative_to(ROOT)}, {chapter_map.LANDING_PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
