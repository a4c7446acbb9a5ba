"""Writes graded assignments (otter-grader's format) from the chapters and a build of the book.

    python tools/assignments.py BUILD_DIR OUTPUT_DIR [--overwrite]

For each chapter whose exercises carry grading cells, OUTPUT_DIR/<chapter>/ gets the master
notebook `<chapter>.ipynb` and what `otter assign` writes from it in `dist/`:
`student/<chapter>.ipynb` (starter code, public tests run by
`grader.check`, a response cell for each written answer) and `autograder/` (the solutions
notebook, every test, and the zip Gradescope or `otter run` grades with). The chapters stay the
one source; this tool and otter only rearrange them:

- a coding exercise's hidden solution cell becomes the question's solution (the lines after the
  starter's, its `def` line and docstring, are what the student writes); its grading cells (code
  cells tagged "grading", in otter's exception-test form, removed from the book's pages and from
  both editions) become the question's tests, with the points and `hidden:` their configs give;
- a written exercise becomes a manually graded question: its solution text and the rubric in the
  solution cell's metadata ("grading": {"points": P, "rubric": "..."}) go to the autograder only;
- the chapter's own check cells are left out (`grader.check` replaces them), and the Markdown is
  the notebook edition's (tools/notebook_edition.py): glued numbers, no MyST.
A chapter with grading cells whose every exercise is not graded stops the tool, naming it.
"""

import pathlib
import re
import subprocess
import sys

import nbformat

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import notebook_edition  # noqa: E402  (tools/ is not a package)
import student_edition  # noqa: E402
import sync_colab_links  # noqa: E402

OTTER = "otter-grader==7.0.0"
GRADED_NOTE = ("This is the graded edition: write each answer in its cell, run "
               "`grader.check(...)` below it for the public tests, and hand in the notebook. "
               "Hidden tests and written answers are graded afterwards.")


class AssignmentError(ValueError):
    """A chapter whose exercises cannot become an assignment; the message names the cell."""


def _exercise_label(cell):
    match = re.search(r"^```\{exercise\}.*\n:label: (\S+)", cell.source, re.M)
    return match.group(1) if cell.cell_type == "markdown" and match else None


def exercises(notebook):
    """[(label, [cell indices])]: each exercise and the exercise-section cells that follow it."""
    groups = []
    for index, cell in enumerate(notebook.cells):
        label = _exercise_label(cell)
        if label:
            groups.append((label, [index]))
        elif groups and "exercise-section" in cell.metadata.get("tags", []):
            groups[-1][1].append(index)
    return groups


def _raw(text):
    return nbformat.v4.new_raw_cell(text)


def _code(text):
    return nbformat.v4.new_code_cell(text)


def solution_with_markers(starter, solution, where):
    """The solution cell's source with otter's solution markers around what the starter leaves
    out: the lines the two share at the start (the `def` line and docstring) stay."""
    start, done = starter.split("\n"), solution.split("\n")
    shared = 0
    while shared < min(len(start), len(done)) and start[shared] == done[shared]:
        shared += 1
    if shared == 0 or shared == len(done):
        raise AssignmentError(f"{where}: the solution does not extend the starter code's first "
                              "lines, so the part a student writes cannot be told apart")
    indent = re.match(r"\s*", done[shared]).group(0)
    return "\n".join(done[:shared] + [f"{indent}# BEGIN SOLUTION", *done[shared:],
                                      f"{indent}# END SOLUTION"])


def _solution_text(edition_source):
    """The text of a solution block without its wrapper: the edition's <details> block, or the
    chapter's own {solution} fence and its options."""
    lines = edition_source.strip().split("\n")
    if lines[0] == "<details>" and lines[-1] == "</details>":
        return "\n".join(lines[2:-1]).strip()
    if lines[0].startswith("```{solution}") and lines[-1] == "```":
        return "\n".join(line for line in lines[1:-1] if not line.startswith(":")).strip()
    raise AssignmentError("a solution cell is not one solution block")


def question(label, indices, source, converted, where):
    """The master-notebook cells of one exercise."""
    cells = {kind: [] for kind in ("starter", "solution", "text", "tests")}
    for index in indices[1:]:
        cell = source.cells[index]
        tags = cell.metadata.get("tags", [])
        if student_edition.is_grading(cell):
            cells["tests"].append(cell.source)
        elif student_edition.SOLUTION_TAG in tags:
            kind = "solution" if cell.cell_type == "code" else "text"
            cells[kind].append((index, cell))
        elif cell.cell_type == "code" and not cells["solution"]:
            cells["starter"].append(cell.source)
    prompt = nbformat.v4.new_markdown_cell(converted.cells[indices[0]].source)
    if cells["solution"]:
        if not cells["tests"] or len(cells["starter"]) != 1:
            raise AssignmentError(f"{where}: coding exercise {label} needs one starter cell and "
                                  "at least one grading cell (tag 'grading')")
        code = solution_with_markers(cells["starter"][0], cells["solution"][0][1].source, where)
        return [_raw(f"# BEGIN QUESTION\nname: {label}"), prompt,
                _raw("# BEGIN SOLUTION"), _code(code), _raw("# END SOLUTION"),
                _raw("# BEGIN TESTS"), *map(_code, cells["tests"]), _raw("# END TESTS"),
                _raw("# END QUESTION")]
    if len(cells["text"]) != 1:
        raise AssignmentError(f"{where}: written exercise {label} needs one solution cell")
    index, cell = cells["text"][0]
    grading = cell.metadata.get("grading", {})
    if not grading.get("rubric") or not grading.get("points"):
        raise AssignmentError(f"{where}: written exercise {label}'s solution cell (cell {index}) "
                              'needs metadata "grading": {"points": P, "rubric": "..."}')
    answer = _solution_text(converted.cells[index].source)
    rubric = f"**Rubric ({grading['points']} points).** {grading['rubric']}"
    return [_raw(f"# BEGIN QUESTION\nname: {label}\nmanual: true\npoints: {grading['points']}"),
            prompt, _raw("# BEGIN SOLUTION"),
            nbformat.v4.new_markdown_cell(f"{answer}\n\n{rubric}"), _raw("# END SOLUTION"),
            _raw("# END QUESTION")]


def master(source, converted, name):
    """The otter master notebook of one chapter: `source` is the chapter, `converted` its
    notebook edition (same cells, plain Markdown)."""
    groups = exercises(source)
    in_question = {index for _, indices in groups for index in indices}
    starts = {indices[0]: (label, indices) for label, indices in groups}
    config = "\n".join([
        "# ASSIGNMENT CONFIG", f"name: {name}", "init_cell: false", "check_all_cell: false",
        "export_cell: false", "run_tests: false", "solutions_pdf: false",
        "generate:", "  pdf: false", "tests:", "  files: false", "  ok_format: false",
    ])
    cells, setup_done = [_raw(config)], False
    for index, cell in enumerate(source.cells):
        if index in starts:
            cells += question(*starts[index], source, converted, f"{name}, cell {index}")
        elif index in in_question:
            continue
        elif cell.cell_type == "markdown":
            text = converted.cells[index].source.replace(student_edition.SOLUTIONS_NOTE, GRADED_NOTE)
            cells.append(nbformat.v4.new_markdown_cell(text))
        else:
            cells.append(_code(cell.source))
            if not setup_done:  # the grader's client, after the chapter's own setup cell
                cells.append(_code(
                    "try:\n    import otter\nexcept ImportError:  # Colab: not preinstalled\n"
                    f"    %pip install -q {OTTER}\n    import otter\n"
                    f'grader = otter.Notebook("{name}.ipynb")'))
                setup_done = True
    notebook = nbformat.v4.new_notebook(cells=cells, metadata=dict(source.metadata))
    notebook.metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                "language": "python"})
    notebook.metadata.setdefault("language_info", {"name": "python"})
    return notebook


def graded_chapters(sources):
    return [path for path in sources
            if any(student_edition.is_grading(cell) for cell in nbformat.read(path, as_version=4).cells)]


def write_assignments(build, output, overwrite=False, sources=None):
    """Writes OUTPUT/<chapter>/{student,autograder}/ for each graded chapter; every master is
    made before anything is written. Returns the chapters' names."""
    build, output = pathlib.Path(build), pathlib.Path(output)
    sources = graded_chapters(sorted(sources or (ROOT / "notebooks").glob("*.ipynb")))
    html_dir = build / "html"
    if not (build / "jupyter_execute" / "notebooks").is_dir() or not html_dir.is_dir():
        raise AssignmentError(f"{build} is not a book build's _build folder (run "
                              "`jupyter-book build .` first)")
    book = notebook_edition.BuiltBook(html_dir)
    citations = notebook_edition.bibliography(ROOT / "book" / "references.bib")
    site, tag = sync_colab_links.pages_site(), sync_colab_links.release_tag()
    masters = {}
    for path in sources:
        executed = build / "jupyter_execute" / "notebooks" / path.name
        converted = notebook_edition.edition(path, executed, book, citations, site, tag,
                                             grading=True)
        masters[path.stem] = master(nbformat.read(path, as_version=4), converted, path.stem)
    notebook_edition.check_output(output, overwrite)
    for name, notebook in masters.items():
        otter_assign(notebook, output / name, name)
    return sorted(masters)


def otter_assign(notebook, folder, name):
    """Writes master `notebook` to FOLDER/<name>.ipynb and runs `otter assign` on it, which
    writes the student and autograder views to FOLDER/dist/ (a rerun replaces them)."""
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, folder / f"{name}.ipynb")
    result = subprocess.run([str(pathlib.Path(sys.executable).parent / "otter"), "assign",
                             "--no-pdfs", "--no-run-tests", f"{name}.ipynb", "dist"],
                            cwd=folder, capture_output=True, text=True)
    if result.returncode:
        raise AssignmentError(f"otter assign failed on {name}:\n{result.stderr[-2000:]}")
    return folder / "dist"


def main(argv):
    args = notebook_edition.build_and_output_args(argv, __doc__, "the assignments")
    try:
        names = write_assignments(args.build, args.output, args.overwrite)
    except (AssignmentError, notebook_edition.EditionError) as error:
        raise SystemExit(f"assignments: {error}") from None
    print(f"wrote {len(names)} assignments to {args.output}: {', '.join(names)} "
          "(each: dist/student/ to hand out, dist/autograder/ to grade)")


if __name__ == "__main__":
    main(sys.argv[1:])
