"""Writes the student edition of the book's notebooks: every solution removed, everything else kept.

    python tools/student_edition.py OUTPUT_DIR

A cell is a solution if its metadata tags include "solution": the hidden code cell that solves a
coding exercise, and the dropdown that explains it. Exercise statements, the starter code (which
returns None) and the check cells stay, so each check prints "Not done yet" until the learner
fills the function in; the notebooks still run from top to bottom.
"""

import pathlib
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"


def is_solution(cell):
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def student_edition(source, destination):
    """Copies notebook `source` to `destination` without its solution cells; returns how many it removed."""
    notebook = nbformat.read(source, as_version=4)
    kept = [cell for cell in notebook.cells if not is_solution(cell)]
    removed = len(notebook.cells) - len(kept)
    notebook.cells = kept
    nbformat.validate(notebook)
    nbformat.write(notebook, destination)
    return removed


def main(argv):
    if len(argv) != 1:
        raise SystemExit(__doc__)
    output = pathlib.Path(argv[0])
    if output.resolve() == (ROOT / "notebooks").resolve():
        raise SystemExit("refusing to overwrite the book's own notebooks: choose another OUTPUT_DIR")
    output.mkdir(parents=True, exist_ok=True)
    for source in sorted((ROOT / "notebooks").glob("*.ipynb")):
        removed = student_edition(source, output / source.name)
        print(f"{source.name}: {removed} solution cell(s) removed")


if __name__ == "__main__":
    main(sys.argv[1:])
