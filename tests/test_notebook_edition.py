"""The notebook edition, made from this run's quick build as the Pages workflow makes it from the
full one, and read as Jupyter shows it (nbconvert's HTML export): no MyST markup left, every glued
number the one the built page shows, the code cells untouched, and a student edition with no
solution in it."""

import functools
import json
import pathlib
import re
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "notebook_edition.py"
CHAPTERS = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))
MYST = ("{glue", "{cite", "{eq}", "{doc}", "{ref}", "{prf", "{numref}", "{exercise", "{solution",
        "{admonition", ":::", ":label:", ":class:")
"""Markup that a Jupyter or Colab reader would see raw."""

sys.path.insert(0, str(ROOT / "tools"))
import notebook_edition  # noqa: E402
import student_edition  # noqa: E402
import sync_colab_links  # noqa: E402


@pytest.fixture(scope="module")
def edition(book, tmp_path_factory):
    """OUTPUT_DIR of `notebook_edition.py`, run on the quick build (`book` is its html/ folder)."""
    output = tmp_path_factory.mktemp("edition") / "edition"
    result = subprocess.run([sys.executable, str(TOOL), str(book.parent), str(output)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return output


def _cells(path):
    return json.loads(pathlib.Path(path).read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


@functools.lru_cache(maxsize=None)
def _as_jupyter_shows_it(path):
    """The text of each Markdown cell of notebook `path` as rendered by nbconvert's HTML export
    (JupyterLab's own renderer of Markdown and its HTML classes)."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_filename(str(path))
    soup = BeautifulSoup(body, "html.parser")
    return tuple(element.get_text(" ") for element in soup.select(".jp-MarkdownOutput"))


def _normal(text):
    # Sphinx's smart quotes and non-breaking spaces are the page's typography, not another value.
    for shown, plain in (("\u2019", "'"), ("\u2018", "'"), ("\u201c", '"'), ("\u201d", '"'), ("\xa0", " ")):
        text = text.replace(shown, plain)
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("folder", ["notebooks", "student"])
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_jupyter_shows_no_myst_markup(edition, folder, chapter):
    rendered = _as_jupyter_shows_it(edition / folder / chapter)
    assert len(rendered) >= 5, f"{chapter}: nbconvert rendered only {len(rendered)} Markdown cells"
    for index, text in enumerate(rendered):
        left = [mark for mark in MYST if mark in text]
        assert not left, f"{folder}/{chapter}, Markdown cell {index}: {left} left in {text[:300]!r}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_glued_number_is_the_one_the_built_page_shows(edition, book, chapter):
    page = BeautifulSoup((book / "notebooks" / chapter.replace(".ipynb", ".html")).read_text(), "html.parser")
    shown = [_normal(span.get_text()) for span in page.select("span.pasted-text")]
    roles = sum(len(re.findall(r"\{glue:text\}`", _source(c))) for c in _cells(ROOT / "notebooks" / chapter)
                if c["cell_type"] == "markdown")
    assert len(shown) == roles, f"{chapter}: {roles} glue roles in the source, {len(shown)} values on the page"
    text = " ".join(_as_jupyter_shows_it(edition / "notebooks" / chapter))
    assert _first_value_missing(shown, text) is None, f"{chapter}: {_first_value_missing(shown, text)}"


def _first_value_missing(shown, text):
    """Where the values the page shows stop coming in order in the edition's `text`, or None."""
    text, position = _normal(text), 0
    for value in shown:
        found = text.find(value, position)
        if found < 0:
            return f"the page shows {value!r}, missing after {text[max(0, position - 80):position]!r}"
        position = found + len(value)
    return None


def test_the_checks_fail_on_the_chapters_as_written(edition, book):
    """The markup and value checks could fail: on a chapter as written they do."""
    chapter = "07_evaluation.ipynb"
    raw = " ".join(_as_jupyter_shows_it(ROOT / "notebooks" / chapter))
    assert "{glue" in raw and "{cite" in raw and "{exercise" in raw
    page = BeautifulSoup((book / "notebooks" / "07_evaluation.html").read_text(), "html.parser")
    shown = [_normal(span.get_text()) for span in page.select("span.pasted-text")]
    text = " ".join(_as_jupyter_shows_it(edition / "notebooks" / chapter))
    assert _first_value_missing(shown, text) is None
    assert _first_value_missing(shown, raw) is not None
    # One value changed (the amortisation share, a percentage) is found out.
    share = next(value for value in shown if value.endswith("%"))
    assert _first_value_missing(shown, text.replace(share, "101%")) is not None


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_code_cells_stay_as_written_and_badges_open_their_edition(edition, chapter):
    # Grading cells (hidden tests, for tools/assignments.py) are in neither edition.
    source = [c for c in _cells(ROOT / "notebooks" / chapter)
              if "grading" not in c.get("metadata", {}).get("tags", [])]
    solution = [("solution" in c.get("metadata", {}).get("tags", [])) for c in source]
    for folder in ("notebooks", "student"):
        cells = _cells(edition / folder / chapter)
        kept = [c for c, s in zip(source, solution) if not (folder == "student" and s)]
        assert [c["cell_type"] for c in cells] == [c["cell_type"] for c in kept]
        for mine, original in zip(cells, kept):
            if original["cell_type"] == "code":
                hidden = "hide-input" in original["metadata"].get("tags", [])
                # A hidden solution gains the one line Colab shows in its place, nothing else.
                expected = f"{notebook_edition.HIDDEN_TITLE}\n{_source(original)}" if hidden else _source(original)
                assert _source(mine) == expected and mine["outputs"] == []
                assert (mine["metadata"].get("cellView") == "form") == hidden
        badge, _ = sync_colab_links.expected_links(chapter, folder=folder)
        assert f"({badge})" in _source(cells[0]), f"{folder}/{chapter}: its badge does not open {badge}"
        assert "published build" in _source(cells[0])


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_exercises_are_headed_and_the_student_edition_has_no_solution(edition, chapter):
    source = "\n".join(_source(c) for c in _cells(ROOT / "notebooks" / chapter) if c["cell_type"] == "markdown")
    exercises = len(re.findall(r"```\{exercise\}", source))
    assert exercises >= 2
    full = "\n".join(_as_jupyter_shows_it(edition / "notebooks" / chapter))
    student = "\n".join(_as_jupyter_shows_it(edition / "student" / chapter))
    number = chapter[:2].lstrip("0")
    for text in (full, student):
        assert sorted(set(re.findall(rf"Exercise {number}\.(\d+)", text)), key=int) == [
            str(i) for i in range(1, exercises + 1)]
    assert full.count("Solution to Exercise") == exercises
    assert "Solution to" not in student
    # The exercise section says which edition it is in.
    assert student_edition.SOLUTIONS_NOTE in full and student_edition.STUDENT_NOTE not in full
    assert student_edition.STUDENT_NOTE in student and student_edition.SOLUTIONS_NOTE not in student
    # No sentence of any solution reaches the student: the first words of each solution's lines.
    for body in re.findall(r"```\{solution\}[^\n]*\n(?::[^\n]*\n)*(.*?)\n```", source, flags=re.S):
        for line in body.splitlines():
            words = re.sub(r"[`*${}\\]", "", line).strip()
            if len(words) > 30 and not re.search(r"[<>\[\]]", words):
                assert _normal(words[:30]) not in _normal(student), f"{chapter}: solution text {words[:30]!r}"


def test_a_build_that_lacks_a_glued_value_is_refused_and_nothing_is_written(book, tmp_path):
    build = tmp_path / "_build"
    (build / "jupyter_execute").mkdir(parents=True)
    (build / "html").symlink_to(book)
    executed = build / "jupyter_execute" / "notebooks"
    subprocess.run(["cp", "-r", str(book.parent / "jupyter_execute" / "notebooks"), str(executed)], check=True)
    record = executed / "07_evaluation.glue.json"
    values = json.loads(record.read_text())
    del values["kl_mean"]
    record.write_text(json.dumps(values))
    output = tmp_path / "edition"
    result = subprocess.run([sys.executable, str(TOOL), str(build), str(output)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "07_evaluation.ipynb" in result.stderr and "'kl_mean'" in result.stderr
    assert not output.exists()


def test_a_folder_with_a_learners_work_is_refused(book, tmp_path):
    output = tmp_path / "edition"
    output.mkdir()
    (output / "my_answers.ipynb").write_text("{}")
    result = subprocess.run([sys.executable, str(TOOL), str(book.parent), str(output)], capture_output=True, text=True)
    assert result.returncode != 0 and "not empty" in result.stderr
    assert sorted(p.name for p in output.iterdir()) == ["my_answers.ipynb"]
    assert (output / "my_answers.ipynb").read_text() == "{}"
