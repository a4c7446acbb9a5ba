"""Execution time of each chapter, in quick mode (default) or full mode, in a fresh checkpoint directory.

    python benchmarks/notebook_times.py           # quick mode, what CI runs
    python benchmarks/notebook_times.py --full    # full mode, what the book build runs

Chapters run in the table-of-contents order, as the book build runs them, so later chapters load
the models earlier ones trained (as they do in the build). Prints one row per chapter and the total.
"""

import argparse
import os
import pathlib
import sys
import tempfile
import time

import nbclient
import nbformat
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def chapters():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc["parts"] for entry in part["chapters"]]
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").exists()]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="full mode (default: quick mode)")
    args = parser.parse_args()
    os.environ["VAE_QUICK"] = "0" if args.full else "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    rows = []
    with tempfile.TemporaryDirectory() as checkpoints:
        os.environ["VAE_CHECKPOINT_DIR"] = checkpoints
        for path in chapters():
            notebook = nbformat.read(path, as_version=4)
            start = time.perf_counter()
            nbclient.NotebookClient(notebook, timeout=3600, kernel_name="python3",
                                    resources={"metadata": {"path": str(path.parent)}}).execute()
            rows.append((path.name, time.perf_counter() - start))
            print(f"  {path.name}: {rows[-1][1]:.1f} s", file=sys.stderr)
    mode = "full" if args.full else "quick"
    print(f"{'chapter':<34} {mode + '-mode seconds':>20}")
    for name, seconds in rows:
        print(f"{name:<34} {seconds:20.1f}")
    print(f"{'total':<34} {sum(s for _, s in rows):20.1f}")


if __name__ == "__main__":
    main()
