"""The student edition: solutions gone, exercises and checks kept, and every notebook still runs."""

import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    output = tmp_path_factory.mktemp("student")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "student_edition.py"), str(output)],
                            capture_output=True, text=True, check=True)
    return output, result.stdout


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_every_notebook_is_written_without_its_solutions(edition):
    output, report = edition
    originals = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in output.glob("*.ipynb")) == [p.name for p in originals]
    for original in originals:
        student = _cells(output / original.name)
        book = _cells(original)
        tags = [c.get("metadata", {}).get("tags", []) for c in book]
        solutions = [t for t in tags if "solution" in t]
        hidden_tests = [t for t in tags if "grading" in t]  # tools/assignments.py's tests
        assert solutions, f"{original.name} has no solutions to remove"
        assert len(student) == len(book) - len(solutions) - len(hidden_tests)
        assert not any("grading" in c.get("metadata", {}).get("tags", []) for c in student)
        assert f"{original.name}: {len(solutions) + len(hidden_tests)} cell(s) removed (solutions and hidden tests)" in report
        text = "\n".join("".join(c["source"]) for c in student)
        assert "{solution}" not in text and not any("hide-input" in c.get("metadata", {}).get("tags", []) for c in student)
        # The exercises themselves stay.
        book_text = "\n".join("".join(c["source"]) for c in book)
        assert len(re.findall(r"\{exercise\}", text)) == len(re.findall(r"\{exercise\}", book_text)) >= 2


def test_the_tool_refuses_to_overwrite_the_book():
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "student_edition.py"), str(ROOT / "notebooks")],
                            capture_output=True, text=True)
    assert result.returncode != 0 and "refusing" in result.stderr


CHAPTERS = sorted(path.name for path in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_student_edition_executes_under_nbval(edition, chapter, tmp_path):
    """Each chapter of the edition, top to bottom, in a fresh kernel (one test a chapter, so that
    pytest-xdist can spread them over its workers; see conftest.py)."""
    output, _ = edition
    # The run's shared checkpoint folder (conftest.py): models the book's chapters trained are
    # loaded, as a student's later chapters load what their chapter 5 trained.
    checkpoints = os.environ.get("VAE_CHECKPOINT_DIR") or str(tmp_path)
    env = dict(os.environ, VAE_QUICK="1", VAE_CHECKPOINT_DIR=checkpoints, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", "-o", "addopts=",
         "--rootdir", str(output), str(output / chapter)],
        capture_output=True, text=True, env=env, cwd=output, timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout
