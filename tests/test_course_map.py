"""The instructor page (book/instructors.md) against its sources: the syllabus and the exercise map
are what tools/course_map.py writes from the chapters and the recorded times, every exercise has
a difficulty and objectives, and a malformed entry is refused naming the exercise."""

import json
import pathlib
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import assignments  # noqa: E402
import course_map  # noqa: E402


def test_the_instructor_page_is_what_the_tool_writes():
    page = course_map.PAGE.read_text()
    assert course_map.rendered(page) == page, "run python tools/course_map.py"


def test_every_chapter_is_in_one_week_and_every_exercise_in_the_map():
    weeks = [prefix for _, _, prefixes in course_map.WEEKS for prefix in prefixes]
    assert sorted(weeks) == sorted(path.name[:2] for path in course_map.chapters())
    assert len(course_map.WEEKS) == 7
    table = course_map.exercise_table()
    for path in course_map.chapters():
        for label, _ in assignments.exercises(nbformat.read(path, as_version=4)):
            assert f"{{ref}}`{label}`" in table, label


def test_the_syllabus_times_are_the_recorded_ones():
    record = json.loads((course_map.RESULTS / "chapter_times_cpu.json").read_text())
    seconds = sum(record["seconds"][f"{name}.ipynb"] for name in ("07_evaluation",))
    week_4 = next(line for line in course_map.syllabus_table().splitlines() if line.startswith("| 4 |"))
    assert f"| {seconds / 60:.0f} min |" in week_4
    assert week_4.endswith(f"| {course_map.NOT_MEASURED} |") != (
        (course_map.RESULTS / "chapter_times_gpu.json").exists())


@pytest.mark.parametrize("change, message", [
    (lambda meta: meta.pop("exercise"), "needs metadata"),
    (lambda meta: meta["exercise"].update(difficulty="easy"), "needs metadata"),
    (lambda meta: meta["exercise"].update(objectives=[99]), "must list indices"),
    (lambda meta: meta["exercise"].update(objectives=[]), "must list indices"),
    (lambda meta: meta["exercise"].update(difficulty="stretch"), "must end with"),
])
def test_a_malformed_exercise_entry_is_refused_naming_it(tmp_path, change, message):
    source = ROOT / "notebooks" / "01_marginal_likelihood.ipynb"
    notebook = nbformat.read(source, as_version=4)
    statement = next(c for c in notebook.cells if ":label: ex-ml-logmeanexp" in c.source)
    assert statement.metadata["exercise"]["difficulty"] != "stretch"
    change(statement.metadata)
    copy = tmp_path / source.name
    nbformat.write(notebook, copy)
    with pytest.raises(course_map.CourseMapError, match=message) as error:
        course_map.exercises(copy)
    assert "ex-ml-logmeanexp" in str(error.value)


def test_points_are_the_grading_cells_and_rubrics():
    found = {e["label"]: e for e in course_map.exercises(ROOT / "notebooks" / "01_marginal_likelihood.ipynb")}
    # ex-ml-logmeanexp: grading cells of 1 + 2 + 1 points; ex-ml-grid: a rubric of 2.
    assert found["ex-ml-logmeanexp"]["points"] == 4 and found["ex-ml-grid"]["points"] == 2
