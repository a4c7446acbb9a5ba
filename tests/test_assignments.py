"""Graded assignments (tools/assignments.py, otter-grader): made from the chapters by `otter
assign`, the solutions get full marks from otter's own grading of each question, the untouched
starter gets zero, and each plausible wrong answer loses points. The student view holds no
solution and no hidden test."""

import importlib.util
import json
import pathlib
import sys

import nbformat
import numpy as np
import pytest
import tensorflow as tf
from otter.test_files.metadata_test import NotebookMetadataExceptionTestFile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import assignments  # noqa: E402
import student_edition  # noqa: E402

GRADED = assignments.graded_chapters(sorted((ROOT / "notebooks").glob("*.ipynb")))

# For each coding exercise, plausible wrong answers (a constant, the wrong reduction, a formula that
# underflows, the right formula on the wrong input), each of which must lose points: one file per
# chapter, tests/wrong_answers/chNN.py, with WRONG = {label: {what it gets wrong: definition}} and,
# where the definitions need more than np and tf, environment() -> the names they run with.
ANSWER_FILES = sorted((ROOT / "tests" / "wrong_answers").glob("ch*.py"))


def _answer_module(path):
    spec = importlib.util.spec_from_file_location(f"wrong_answers_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ANSWERS = [_answer_module(path) for path in ANSWER_FILES]
WRONG = {label: wrong for module in ANSWERS for label, wrong in module.WRONG.items()}
ENVIRONMENTS = {label: getattr(module, "environment", None)
                for module in ANSWERS for label in module.WRONG}


def _master(path):
    chapter = nbformat.read(path, as_version=4)
    # The edition's Markdown is the chapter's, converted; otter does not read it, so the
    # chapter's own cells stand in for the converted ones here (no build needed).
    return chapter, assignments.master(chapter, chapter, path.stem)


@pytest.fixture(scope="module")
def assigned(tmp_path_factory):
    """{chapter name: folder otter assign wrote}, for every graded chapter."""
    out = tmp_path_factory.mktemp("assignments")
    folders = {}
    for path in GRADED:
        _, notebook = _master(path)
        folders[path.stem] = assignments.otter_assign(notebook, out / path.stem, path.stem)
    return folders


def _questions():
    for path in GRADED:
        chapter = nbformat.read(path, as_version=4)
        for label, indices in assignments.exercises(chapter):
            cells = [chapter.cells[i] for i in indices]
            solution = [c for c in cells if c.cell_type == "code" and student_edition.is_solution(c)]
            if solution:
                yield path.stem, label, solution[0].source


def _score(folder, name, label, definition):
    """(score, possible) of otter's tests of `label` on an environment where `definition` ran."""
    environment = {"np": np, "tf": tf}
    if ENVIRONMENTS.get(label):
        environment.update(ENVIRONMENTS[label]())
    exec(definition, environment)
    path = folder / "autograder" / f"{name}.ipynb"
    spec = json.loads(path.read_text())["metadata"]["otter"]["tests"][label]
    test = NotebookMetadataExceptionTestFile.from_metadata(spec, path=str(path))
    test.run(environment)
    return test.score, test.possible


def test_the_graded_chapters_and_their_wrong_answers_match():
    assert GRADED, "no chapter has grading cells"
    assert {label for _, label, _ in _questions()} == set(WRONG)


@pytest.mark.parametrize("name,label,solution", list(_questions()), ids=lambda v: str(v)[:20])
def test_solution_full_marks_starter_zero_wrong_answers_less(assigned, name, label, solution):
    score, possible = _score(assigned[name], name, label, solution)
    assert possible >= 3 and score == possible, f"the book's solution scores {score}/{possible}"
    student = nbformat.read(assigned[name] / "student" / f"{name}.ipynb", as_version=4)
    answer = next(c.source for c in student.cells
                  if "otter_answer_cell" in c.metadata.get("tags", [])
                  and c.source.startswith(solution.split("(")[0]))
    assert "..." in answer
    assert _score(assigned[name], name, label, answer)[0] == 0, "the untouched starter scores"
    for wrong, definition in WRONG[label].items():
        score, _ = _score(assigned[name], name, label, definition)
        assert score < possible, f"{label}: {wrong!r} gets full marks"


@pytest.mark.parametrize("name", [path.stem for path in GRADED])
def test_the_student_view_holds_no_solution_and_no_hidden_test(assigned, name):
    chapter = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    student = (assigned[name] / "student" / f"{name}.ipynb").read_text()
    autograder = (assigned[name] / "autograder" / f"{name}.ipynb").read_text()
    for cell in chapter.cells:
        if student_edition.is_solution(cell) and cell.cell_type == "code":
            body = cell.source.strip().split("\n")[-1].strip()  # its last line is solution code
            assert body not in student and body in autograder, body
        if student_edition.is_grading(cell) and "hidden: true" in cell.source:
            test_name = cell.source.split("def ", 1)[1].split("(")[0]
            assert test_name not in student and test_name in autograder
        rubric = cell.metadata.get("grading", {}).get("rubric")
        if rubric:
            assert rubric[:40] not in student and rubric[:40] in autograder


def test_a_written_exercise_without_a_rubric_is_refused_naming_it():
    chapter, _ = _master(GRADED[0])
    for cell in chapter.cells:
        cell.metadata.pop("grading", None)
    with pytest.raises(assignments.AssignmentError, match=r"needs metadata \"grading\""):
        assignments.master(chapter, chapter, GRADED[0].stem)


def test_a_coding_exercise_without_tests_is_refused_naming_it():
    chapter, _ = _master(GRADED[0])
    chapter.cells = [c for c in chapter.cells if not student_edition.is_grading(c)]
    with pytest.raises(assignments.AssignmentError, match="at least one grading cell"):
        assignments.master(chapter, chapter, GRADED[0].stem)


def test_grading_cells_are_off_the_pages_and_out_of_both_editions():
    for path in GRADED:
        chapter = nbformat.read(path, as_version=4)
        grading = [c for c in chapter.cells if student_edition.is_grading(c)]
        assert grading and all("remove-cell" in c.metadata["tags"] for c in grading)
        student, _ = student_edition.student_edition(path)
        assert not any(student_edition.is_grading(c) for c in student.cells)


def _otter_run(folder, name, submission, output):
    """otter run's results.json of `submission`, graded with the chapter's autograder zip, as an
    instructor grades without Docker."""
    import os
    import subprocess

    zips = sorted((folder / "autograder").glob(f"{name}-autograder_*.zip"))
    assert len(zips) == 1, zips
    output.mkdir()
    env = dict(os.environ, VAE_QUICK="1", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [str(pathlib.Path(sys.executable).parent / "otter"), "run", "--no-logo", "-a", str(zips[0]),
         "-o", str(output), str(submission)],
        capture_output=True, text=True, env=env, timeout=900, cwd=output)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return json.loads((output / "results.json").read_text())


def _points(results):
    """{question: (score, possible)} of the autograded questions in otter's results.json."""
    # One entry per question with its score, and a "Public Tests" summary with none.
    return {test["name"]: (test["score"], test["max_score"])
            for test in results["tests"] if "score" in test}


def test_otter_run_grades_a_submitted_notebook_end_to_end(assigned, tmp_path):
    # Chapter 1 (a minute in quick mode): the solutions notebook as a submission gets every
    # point of its autograded questions, the student notebook as handed out gets none.
    name = "01_marginal_likelihood"
    folder = assigned[name]
    solved = _points(_otter_run(folder, name, folder / "autograder" / f"{name}.ipynb", tmp_path / "solved"))
    starter = _points(_otter_run(folder, name, folder / "student" / f"{name}.ipynb", tmp_path / "starter"))
    coding = {label for chapter, label, _ in _questions() if chapter == name}
    assert set(solved) == set(starter) == coding
    for question, (score, possible) in solved.items():
        assert possible > 0 and score == possible, (question, score, possible)
        assert starter[question][0] == 0, (question, starter[question])
