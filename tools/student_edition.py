"""Writes the student edition of the book's notebooks: every solution removed, everything else kept.

    python tools/student_edition.py OUTPUT_DIR [--overwrite]

OUTPUT_DIR must be new or empty: a folder that holds anything already (a learner's own work) is
refused unless --overwrite is given, and then only the chapter notebooks in it are replaced. The
book's own notebooks are never written to, however they are reached (a symbolic link, a bind
mount, hard links): folders and files are compared by identity (os.path.samefile), not by name.

Each chapter's Colab badge is pointed at the student notebook of the published notebook edition
(tools/notebook_edition.py writes that edition, MyST turned into plain Markdown, from a build; this
tool works from the chapters alone). Every chapter is read and checked before any file is written,
so a malformed chapter leaves OUTPUT_DIR as it was.

A cell is a solution if its metadata tags include "solution": the hidden code cell that solves a
coding exercise, and the dropdown that explains it. Exercise statements, the starter code (which
returns None) and the check cells stay, so each check prints "Not done yet" until the learner
fills the function in; the notebooks still run from top to bottom.
"""

import argparse
import os
import pathlib
import sys

import nbformat

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import sync_colab_links  # noqa: E402  (tools/ is not a package)

ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTION_TAG = "solution"
SOLUTIONS_NOTE = "Solutions are hidden; click to open them. Try first."
"""What each chapter's exercise section says of its solutions; an edition without them says instead:"""
STUDENT_NOTE = "This edition has no solutions: each check cell says whether your answer passes."


GRADING_TAG = "grading"
"""A hidden test of an exercise (otter-grader's form): run by the book, kept for tools/assignments.py."""


def is_solution(cell):
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def is_grading(cell):
    return GRADING_TAG in cell.get("metadata", {}).get("tags", [])


def student_edition(source):
    """Notebook `source` without its solution cells, its badge opening the student edition:
    (notebook node, how many cells it removed). Raises ValueError naming the file if it is not a
    valid notebook."""
    try:
        notebook = nbformat.read(source, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:  # JSON or schema: both mean the chapter must be repaired first
        raise ValueError(f"{source} is not a valid notebook ({type(error).__name__}: {error}); "
                         "repair it (git diff shows what changed) and run again.") from None
    kept = [cell for cell in notebook.cells if not (is_solution(cell) or is_grading(cell))]
    removed = len(notebook.cells) - len(kept)
    notebook.cells = kept
    for cell in kept:
        if cell.cell_type == "markdown":
            cell.source = cell.source.replace(SOLUTIONS_NOTE, STUDENT_NOTE)
    badge, _ = sync_colab_links.expected_links(pathlib.Path(source).name, folder="student")
    if kept and kept[0].cell_type == "markdown":
        kept[0].source = sync_colab_links.BADGE.sub(rf"\g<1>{badge}\g<2>", kept[0].source)
    return notebook, removed


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def main(argv):
    parser = argparse.ArgumentParser(
        description="Write the book's notebooks without their solution cells.", epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("output", metavar="OUTPUT_DIR", help="a new or empty folder")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the chapter notebooks in a folder that is not empty")
    args = parser.parse_args(argv)
    output, book = pathlib.Path(args.output), ROOT / "notebooks"
    sources = sorted(book.glob("*.ipynb"))
    # By identity: a bind mount or a link of notebooks/ has another name but the same files.
    if _same_file(output, book) or any(_same_file(output / s.name, s) for s in sources):
        raise SystemExit(
            f"refusing to write to {output}: it holds the book's own notebooks ({book}), and the "
            "student edition would remove their solutions. Choose another OUTPUT_DIR."
        )
    if output.exists() and not output.is_dir():
        raise SystemExit(f"refusing to write to {output}: it is a file, not a folder. Choose another OUTPUT_DIR.")
    existing = sorted(entry.name for entry in output.iterdir()) if output.is_dir() else []
    if existing and not args.overwrite:
        shown = ", ".join(existing[:3]) + (", ..." if len(existing) > 3 else "")
        raise SystemExit(
            f"refusing to write to {output}: it is not empty ({len(existing)} entries: {shown}), "
            "and a learner's notebooks there would be overwritten. Choose a new or empty folder, "
            "or pass --overwrite to replace the chapter notebooks in it."
        )
    try:
        editions = [(source, *student_edition(source)) for source in sources]
    except ValueError as error:
        raise SystemExit(f"nothing written: {error}") from None
    output.mkdir(parents=True, exist_ok=True)
    for source, notebook, removed in editions:
        nbformat.write(notebook, output / source.name)
        print(f"{source.name}: {removed} cell(s) removed (solutions and hidden tests)")


if __name__ == "__main__":
    main(sys.argv[1:])
