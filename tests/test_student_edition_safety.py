"""The student edition never overwrites a learner's work or the book's own notebooks (issue 13).

Every test that could write over notebooks works on a copy of the repository in a temporary
folder: the real notebooks/ is only ever read."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOOL = pathlib.Path("tools") / "student_edition.py"


@pytest.fixture
def book_copy(tmp_path):
    """A copy of the tool and the chapters: (its root, {notebook name: bytes})."""
    copy = tmp_path / "book"
    (copy / "tools").mkdir(parents=True)
    (copy / "vae_helpers").mkdir()
    # The tool and what it reads: sync_colab_links (the badges) reads the version and the URL.
    for name in ("tools/student_edition.py", "tools/sync_colab_links.py", "vae_helpers/__init__.py", "_config.yml"):
        shutil.copy(ROOT / name, copy / name)
    shutil.copytree(ROOT / "notebooks", copy / "notebooks", ignore=shutil.ignore_patterns("checkpoints", ".*"))
    originals = {p.name: p.read_bytes() for p in (copy / "notebooks").glob("*.ipynb")}
    assert len(originals) >= 2
    return copy, originals


def _run(root, *args, prefix=()):
    return subprocess.run([*prefix, sys.executable, str(root / TOOL), *map(str, args)],
                          capture_output=True, text=True, timeout=300)


def _unchanged(copy, originals):
    return {p.name: p.read_bytes() for p in (copy / "notebooks").glob("*.ipynb")} == originals


def test_a_folder_with_a_learners_work_is_refused_unless_told_to_overwrite(tmp_path):
    output = tmp_path / "student"
    output.mkdir()
    mine = output / "05_training.ipynb"
    mine.write_text('{"my": "answers"}')
    (output / "notes.txt").write_text("mine")
    refused = _run(ROOT, output)
    assert refused.returncode != 0
    assert "refusing to write to" in refused.stderr and "not empty (2 entries: 05_training.ipynb, notes.txt)" in refused.stderr
    assert "--overwrite" in refused.stderr
    assert mine.read_text() == '{"my": "answers"}'  # v0.1.0 replaced it without asking
    written = _run(ROOT, output, "--overwrite")
    assert written.returncode == 0, written.stderr
    assert mine.read_text() != '{"my": "answers"}' and (output / "notes.txt").read_text() == "mine"


def test_an_empty_or_new_folder_needs_no_flag(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for output in (empty, tmp_path / "new" / "student"):
        result = _run(ROOT, output)
        assert result.returncode == 0, result.stderr
        assert sorted(p.name for p in output.iterdir()) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("flags", [(), ("--overwrite",)])
def test_a_symlink_to_the_books_notebooks_is_refused(book_copy, tmp_path, flags):
    copy, originals = book_copy
    link = tmp_path / "student"
    link.symlink_to(copy / "notebooks")
    result = _run(copy, link, *flags)
    assert result.returncode != 0 and "holds the book's own notebooks" in result.stderr
    assert _unchanged(copy, originals)


@pytest.mark.parametrize("flags", [(), ("--overwrite",)])
def test_a_folder_of_links_to_the_books_notebooks_is_refused(book_copy, tmp_path, flags):
    copy, originals = book_copy
    output = tmp_path / "student"
    output.mkdir()
    for name in originals:  # the folder differs; its files are the book's
        (output / name).symlink_to(copy / "notebooks" / name)
    result = _run(copy, output, *flags)
    assert result.returncode != 0 and "holds the book's own notebooks" in result.stderr
    assert _unchanged(copy, originals)  # v0.1.0 wrote through the links: every solution gone


def _mount_namespace():
    """A command prefix that runs in a private mount namespace, or None where none can be made."""
    if shutil.which("unshare") is None:
        return None
    for prefix in (["unshare", "-m"], ["unshare", "-rm"]):
        if subprocess.run([*prefix, "true"], capture_output=True).returncode == 0:
            return prefix
    return None


def test_a_bind_mount_of_the_books_notebooks_is_refused(book_copy, tmp_path):
    """The case v0.1.0's name comparison let through: another path, the very same folder."""
    prefix = _mount_namespace()
    if prefix is None:
        pytest.skip("no unshare: cannot make a private bind mount here")
    copy, originals = book_copy
    mount_point = tmp_path / "student"
    mount_point.mkdir()
    script = 'mount --bind "$1" "$2" && exec "$0" "$3" "$2"'
    result = subprocess.run([*prefix, "sh", "-c", script, sys.executable, str(copy / "notebooks"),
                             str(mount_point), str(copy / TOOL)], capture_output=True, text=True, timeout=300)
    if "mount:" in result.stderr:
        pytest.skip(f"bind mounts are not allowed here: {result.stderr.strip()[:200]}")
    assert result.returncode != 0 and "holds the book's own notebooks" in result.stderr, result.stderr
    assert _unchanged(copy, originals)
    assert list(mount_point.iterdir()) == []  # the mount ended with its namespace


def test_a_malformed_chapter_stops_the_edition_before_any_file_is_written(book_copy, tmp_path):
    copy, _ = book_copy
    (copy / "notebooks" / "06_latent_space.ipynb").write_text('{"cells": [')
    output = tmp_path / "student"
    result = _run(copy, output)
    assert result.returncode != 0
    assert "nothing written" in result.stderr and "06_latent_space.ipynb is not a valid notebook" in result.stderr
    assert not output.exists()
    # Once repaired, the same folder is accepted: no half-written edition blocks the rerun.
    shutil.copy(ROOT / "notebooks" / "06_latent_space.ipynb", copy / "notebooks" / "06_latent_space.ipynb")
    assert _run(copy, output).returncode == 0


def test_the_student_notebooks_badges_open_the_student_edition(book_copy, tmp_path):
    import json

    copy, _ = book_copy
    output = tmp_path / "student"
    assert _run(copy, output).returncode == 0
    for path in sorted(output.glob("*.ipynb")):
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
        assert "/blob/colab-v" in first and f"/student/{path.name})" in first, first
        assert f"/notebooks/{path.name})" not in first
        text = path.read_text()
        assert "This edition has no solutions" in text and "Solutions are hidden" not in text
