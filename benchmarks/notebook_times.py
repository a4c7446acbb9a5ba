"""Execution time of each chapter, in quick mode (default) or full mode, in a fresh checkpoint directory.

    python benchmarks/notebook_times.py                  # quick mode, what CI runs
    python benchmarks/notebook_times.py --full           # full mode, what the book build runs
    python benchmarks/notebook_times.py --full --record  # and write the landing page's time column
    python benchmarks/notebook_times.py --full --save DIR  # and keep the executed chapters in DIR

Chapters run in the table-of-contents order, as the book build runs them, so later chapters load
the models earlier ones trained (as they do in the build). Prints one row per chapter and the total,
then, for a full-mode run, each way the times are over the budgets of benchmarks/chapter_map.py
(CHAPTER_BUDGET_S a chapter, BUILD_BUDGET_S the build), or that they are within budget.
`--record` saves the times as benchmarks/results/chapter_times_<cpu|gpu>.json (the column follows
the device the chapters report using) and rewrites the chapter map in book/intro.md from it.
`--save DIR` writes each executed chapter, outputs and all, to DIR/<chapter>.ipynb, so its full-mode
outputs can be read afterwards; DIR must be new or empty (the benchmark overwrites nobody's files).
"""

import argparse
import datetime
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

import nbclient
import nbformat
import yaml

import chapter_map

ROOT = pathlib.Path(__file__).resolve().parent.parent


def chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def setup_report(notebook):
    """{"versions": ..., "device": ..., "data": ...} from the line the chapter's setup cell printed
    (`vae_helpers.notebook.setup_line`: the versions, then "name: value" parts, joined by " | ")."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                versions, *rest = line.split(" | ")
                parts = dict(part.split(": ", 1) for part in rest if ": " in part)
                if "device" in parts:
                    return {"versions": versions, **parts}
    raise RuntimeError("the chapter printed no setup line (vae_helpers.notebook.setup_line)")


def describe_device(reported):
    """The machine in words: the GPU's name where the chapters used one, else the CPU count and model."""
    if reported.startswith("GPU"):
        smi = shutil.which("nvidia-smi")
        names = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True,
                               text=True).stdout.split("\n") if smi else []
        return f"GPU: {names[0].strip() if names and names[0].strip() else reported}"
    model = ""
    if pathlib.Path("/proc/cpuinfo").exists():
        model = next((line.split(":", 1)[1].strip() for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cores} CPU cores" + (f" ({model})" if model else "") + ", no GPU"


def save_dir(parser, directory):
    """`--save`'s directory, created if new; refused (a usage error) if it exists and is not an empty
    directory, so that the benchmark never overwrites files someone keeps there."""
    if directory is None:
        return None
    path = pathlib.Path(directory).resolve()
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        parser.error(f"--save {directory}: {path} exists and is not an empty directory; name a new or empty "
                     "one (the benchmark does not overwrite files)")
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_chapter(path, save):
    """(seconds, executed notebook) of one chapter; the notebook is also written to `save` if given,
    even when a cell fails, so that the failure's output can be read there."""
    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    try:
        nbclient.NotebookClient(notebook, timeout=3600, kernel_name="python3",
                                resources={"metadata": {"path": str(path.parent)}}).execute()
        # Evaluated before `finally` runs, so the time is the chapter's, not the chapter's and its saving.
        return time.perf_counter() - start, notebook
    finally:
        if save is not None:
            nbformat.write(notebook, save / path.name)


def print_table(rows, mode):
    print(f"{'chapter':<34} {mode + '-mode seconds':>20}")
    for name, seconds in rows:
        print(f"{name:<34} {seconds:20.1f}")
    print(f"{'total':<34} {sum(s for _, s in rows):20.1f}")


def budget_lines(rows):
    """What to print of the budgets after a full-mode table: each failure, or that all is within."""
    failures = chapter_map.budget_failures({"seconds": dict(rows)})
    if failures:
        return [f"over budget: {failure}" for failure in failures]
    return [f"within budget: {sum(s for _, s in rows):.0f} s in all (budget {chapter_map.BUILD_BUDGET_S} s), "
            f"no chapter over {chapter_map.CHAPTER_BUDGET_S} s"]


def make_record(rows, reports):
    """The landing page's record of a full-mode run; sys.exit if the chapters reported different devices."""
    devices = {report["device"] for report in reports}
    if len(devices) != 1:
        sys.exit("not recorded: the chapters reported different devices")
    reported = devices.pop()
    return {
        "column": "gpu" if reported.startswith("GPU") else "cpu",
        "device": describe_device(reported),
        "data": next(report["data"] for report in reports if "data" in report),
        # The TensorFlow the chapters ran on, as they reported it.
        "tensorflow": re.search(r"TensorFlow ([^,\s]+)", reports[0]["versions"]).group(1),
        "date": datetime.date.today().isoformat(),
        "seconds": {name: round(seconds, 1) for name, seconds in rows},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="full mode (default: quick mode)")
    parser.add_argument("--record", action="store_true",
                        help="save the times and rewrite the landing page's column (needs --full)")
    parser.add_argument("--save", metavar="DIR",
                        help="write each executed chapter to DIR/<chapter>.ipynb (DIR new or empty)")
    args = parser.parse_args()
    if args.record and not args.full:
        parser.error("--record writes the landing page's full-mode column: add --full")
    save = save_dir(parser, args.save)  # refused before any chapter runs, not after an hour
    os.environ["VAE_QUICK"] = "0" if args.full else "1"
    os.environ["VAE_FETCH_MODELS"] = "0"  # time the chapters' training, not downloads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows, reports = [], []
    with tempfile.TemporaryDirectory() as checkpoints:
        os.environ["VAE_CHECKPOINT_DIR"] = checkpoints
        for path in chapters():
            seconds, notebook = run_chapter(path, save)
            rows.append((path.name, seconds))
            reports.append(setup_report(notebook))
            print(f"  {path.name}: {seconds:.1f} s", file=sys.stderr)
    print_table(rows, "full" if args.full else "quick")
    if args.full:  # the budgets are for full mode; quick mode is CI's smoke test
        print("\n".join(budget_lines(rows)))
    if save is not None:
        print(f"executed chapters written to {save}")
    print(f"device the chapters reported: {', '.join(sorted({report['device'] for report in reports}))}")
    if args.record:
        record = make_record(rows, reports)
        chapter_map.save_record(record)
        chapter_map.update_landing_page()
        print(f"recorded in {chapter_map.record_path(record['column']).relative_to(ROOT)}; "
              f"book/intro.md's {record['column'].upper()} column rewritten")


if __name__ == "__main__":
    main()
