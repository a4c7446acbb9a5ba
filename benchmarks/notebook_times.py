"""Execution time of each chapter, in quick mode (default) or full mode, in a fresh checkpoint directory.

    python benchmarks/notebook_times.py                  # quick mode, what CI runs
    python benchmarks/notebook_times.py --full           # full mode, what the book build runs
    python benchmarks/notebook_times.py --full --record  # and write the landing page's time column

Chapters run in the table-of-contents order, as the book build runs them, so later chapters load
the models earlier ones trained (as they do in the build). Prints one row per chapter and the total.
`--record` saves the times as benchmarks/results/chapter_times_<cpu|gpu>.json (the column follows
the device the chapters report using) and rewrites the chapter map in book/intro.md from it.
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="full mode (default: quick mode)")
    parser.add_argument("--record", action="store_true",
                        help="save the times and rewrite the landing page's column (needs --full)")
    args = parser.parse_args()
    if args.record and not args.full:
        parser.error("--record writes the landing page's full-mode column: add --full")
    os.environ["VAE_QUICK"] = "0" if args.full else "1"
    os.environ["VAE_FETCH_MODELS"] = "0"  # time the chapters' training, not downloads
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows, reports = [], []
    with tempfile.TemporaryDirectory() as checkpoints:
        os.environ["VAE_CHECKPOINT_DIR"] = checkpoints
        for path in chapters():
            notebook = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            nbclient.NotebookClient(notebook, timeout=3600, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}}).execute()
            rows.append((path.name, time.perf_counter() - start))
            reports.append(setup_report(notebook))
            print(f"  {path.name}: {rows[-1][1]:.1f} s", file=sys.stderr)
    mode = "full" if args.full else "quick"
    print(f"{'chapter':<34} {mode + '-mode seconds':>20}")
    for name, seconds in rows:
        print(f"{name:<34} {seconds:20.1f}")
    print(f"{'total':<34} {sum(s for _, s in rows):20.1f}")
    devices = {report["device"] for report in reports}
    print(f"device the chapters reported: {', '.join(sorted(devices))}")
    if args.record:
        if len(devices) != 1:
            sys.exit("not recorded: the chapters reported different devices")
        reported = devices.pop()
        record = {
            "column": "gpu" if reported.startswith("GPU") else "cpu",
            "device": describe_device(reported),
            "data": next(report["data"] for report in reports if "data" in report),
            # The TensorFlow the chapters ran on, as they reported it.
            "tensorflow": re.search(r"TensorFlow ([^,\s]+)", reports[0]["versions"]).group(1),
            "date": datetime.date.today().isoformat(),
            "seconds": {name: round(seconds, 1) for name, seconds in rows},
        }
        chapter_map.save_record(record)
        chapter_map.update_landing_page()
        print(f"recorded in {chapter_map.record_path(record['column']).relative_to(ROOT)}; "
              f"book/intro.md's {record['column'].upper()} column rewritten")


if __name__ == "__main__":
    main()
