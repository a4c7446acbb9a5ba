"""The code the chapters show is the code vae_helpers holds: one text (tools/shown_code.py)."""

import json
import pathlib
import shutil
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import shown_code  # noqa: E402

from vae_helpers import notebook  # noqa: E402


def test_every_shown_cell_is_the_package_text():
    found = shown_code.differences()
    assert not found, "\n\n".join(found) + "\n\nRun `python tools/shown_code.py` after editing the package."


@pytest.mark.parametrize(
    "chapter, names",
    [
        ("03_vae_model.ipynb", ["models.make_encoder", "models.make_decoder", "models.CVAE"]),
        ("04_vae_loss.ipynb", ["losses.elbo_terms"]),
        ("05_training.ipynb", ["training.fit"]),
        ("12_labels.ipynb", ["models.ConditionalVAE.encode", "models.ConditionalVAE.decode",
                             "models.SemiSupervisedVAE.labelled_bounds", "models.SemiSupervisedVAE.terms"]),
    ],
)
def test_each_chapter_shows_what_it_teaches(chapter, names):
    shown = shown_code.shown_names([ROOT / "notebooks" / chapter])
    assert set(names) <= shown, f"{chapter} does not show {sorted(set(names) - shown)}"


def test_chapter_3_shows_every_line_of_the_model_class():
    definitions = shown_code.Definitions("models.conv")
    shown = shown_code.shown_names([ROOT / "notebooks" / "03_vae_model.ipynb"])
    missing = [m for m in definitions.members("CVAE") if f"models.CVAE.{m}" not in shown]
    assert not missing, f"chapter 3 does not show CVAE.{missing}"
    assert definitions.statements_besides_members("CVAE") == []


def test_a_shown_class_keeps_its_class_attributes():
    # uses_labels = True is what makes ConditionalVAE take (images, labels) batches: a page that
    # dropped it would show a class that trains differently from the package's.
    text = shown_code.expected_source(["models.ConditionalVAE", "models.ConditionalVAE.__init__"])
    head, rest = text.split("def __init__", 1)
    assert "uses_labels = True" in head and '"""The book\'s CVAE' in head
    assert "uses_labels" not in rest.split("\n", 1)[0]


def _copy_tree(tmp_path):
    for folder in ("vae_helpers", "notebooks"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def test_a_cell_edited_on_its_own_is_caught_and_rewritten(tmp_path, monkeypatch):
    copy = _copy_tree(tmp_path)
    monkeypatch.setattr(shown_code, "PACKAGE", copy / "vae_helpers")
    monkeypatch.setattr(shown_code, "NOTEBOOKS", copy / "notebooks")
    path = copy / "notebooks" / "03_vae_model.ipynb"
    book = json.loads(path.read_text())
    index = next(i for i, c in enumerate(book["cells"]) if "models.CVAE.train_step" in c["metadata"].get("shows", []))
    book["cells"][index]["source"] = "".join(book["cells"][index]["source"]).replace(
        "compute_average_loss", "reduce_mean")
    path.write_text(json.dumps(book, indent=1, ensure_ascii=False) + "\n")

    found = shown_code.differences()
    assert len(found) == 1 and "03_vae_model.ipynb cell" in found[0] and "+        loss = tf.nn.reduce_mean" in found[0]
    assert shown_code.write() == [f"03_vae_model.ipynb cell {index}"]
    assert shown_code.differences() == []


def test_a_package_edited_on_its_own_is_caught(tmp_path, monkeypatch):
    copy = _copy_tree(tmp_path)
    monkeypatch.setattr(shown_code, "PACKAGE", copy / "vae_helpers")
    monkeypatch.setattr(shown_code, "NOTEBOOKS", copy / "notebooks")
    module = copy / "vae_helpers" / "models" / "conv.py"
    module.write_text(module.read_text().replace("strides=2, activation=\"relu\"),", "strides=2, activation=\"elu\"),", 1))
    found = shown_code.differences()
    assert len(found) == 1 and "models.make_encoder" in found[0]


def _edit_first_shown_cell(tmp_path, monkeypatch, edit):
    """Applies `edit(cell)` to the first tagged cell of chapter 3 in a copy of the notebooks."""
    copy = _copy_tree(tmp_path)
    monkeypatch.setattr(shown_code, "NOTEBOOKS", copy / "notebooks")
    path = copy / "notebooks" / "03_vae_model.ipynb"
    book = json.loads(path.read_text())
    edit(next(c for c in book["cells"] if c["metadata"].get("shows")))
    path.write_text(json.dumps(book, indent=1) + "\n")


def test_whitespace_alone_is_not_a_difference(tmp_path, monkeypatch):
    def pad(cell):
        cell["source"] = [line.rstrip("\n") + "   \n\n" for line in cell["source"]]

    _edit_first_shown_cell(tmp_path, monkeypatch, pad)
    assert shown_code.differences() == []


def test_an_unknown_name_is_reported(tmp_path, monkeypatch):
    _edit_first_shown_cell(tmp_path, monkeypatch, lambda cell: cell["metadata"].update(shows=["models.NoSuchThing"]))
    assert any("'NoSuchThing' is not defined" in line for line in shown_code.differences())


def test_add_to_class_attaches_methods_and_properties():
    class Thing:
        pass

    @notebook.add_to_class(Thing)
    def double(self, x):
        return 2 * x

    @notebook.add_to_class(Thing)
    @property
    def name(self):
        return "thing"

    assert Thing().double(3) == 6 and Thing().name == "thing"


def _both_modes(capsys):
    """(exit status, printed text) of the write mode, then of --check."""
    results = []
    for argv in ([], ["--check"]):
        status = shown_code.main(argv)
        results.append((status, capsys.readouterr().out))
    return results


def test_a_name_that_is_a_path_is_refused_in_both_modes(tmp_path, monkeypatch, capsys):
    copy = _copy_tree(tmp_path / "tree")
    monkeypatch.setattr(shown_code, "PACKAGE", copy / "vae_helpers")
    monkeypatch.setattr(shown_code, "NOTEBOOKS", copy / "notebooks")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("def leak():\n    return 'a private file'\n")
    path = copy / "notebooks" / "03_vae_model.ipynb"
    for name in (f"{outside}/secret.leak", "../outside/secret.leak", "models"):
        book = json.loads(path.read_text())
        next(c for c in book["cells"] if c["metadata"].get("shows"))["metadata"]["shows"] = [name]
        path.write_text(json.dumps(book, indent=1) + "\n")
        before = path.read_bytes()
        # v0.1.0 copied outside/secret.py's leak into the chapter.
        for status, printed in _both_modes(capsys):
            assert status == 1 and "is not a dotted name inside vae_helpers" in printed, printed
            assert "03_vae_model.ipynb cell" in printed and "models.CVAE.train_step" in printed
        assert path.read_bytes() == before and b"a private file" not in before


def test_an_unknown_name_gives_the_same_clear_error_in_both_modes(tmp_path, monkeypatch, capsys):
    _edit_first_shown_cell(tmp_path, monkeypatch, lambda cell: cell["metadata"].update(shows=["models.NoSuchThing"]))
    monkeypatch.setattr(shown_code, "PACKAGE", tmp_path / "vae_helpers")
    path = tmp_path / "notebooks" / "03_vae_model.ipynb"
    before = path.read_bytes()
    (write_status, written), (check_status, checked) = _both_modes(capsys)
    # v0.1.0's write mode: a KeyError traceback.
    assert write_status == check_status == 1
    for printed in (written, checked):
        assert "03_vae_model.ipynb cell" in printed and "'NoSuchThing' is not defined in the module" in printed
    assert "No notebook was rewritten" in written and path.read_bytes() == before


def test_a_notebook_that_is_not_json_is_named_with_the_fix(tmp_path, monkeypatch, capsys):
    copy = _copy_tree(tmp_path)
    monkeypatch.setattr(shown_code, "PACKAGE", copy / "vae_helpers")
    monkeypatch.setattr(shown_code, "NOTEBOOKS", copy / "notebooks")
    path = copy / "notebooks" / "04_vae_loss.ipynb"
    path.write_text(path.read_text().replace('"cells": [', '"cells": [\n<<<<<<< HEAD', 1))
    before = path.read_bytes()
    for status, printed in _both_modes(capsys):
        # v0.1.0: json.JSONDecodeError, naming no file.
        assert status == 1 and "04_vae_loss.ipynb is not valid JSON" in printed, printed
        assert "at line" in printed and "restore it from git" in printed
    assert path.read_bytes() == before
    with pytest.raises(shown_code.ShownCodeError, match="04_vae_loss.ipynb is not valid JSON"):
        shown_code.shown_names([path])
