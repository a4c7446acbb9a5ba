"""tools/notebook_edition.py on a small chapter and a small build made here: each kind of MyST
markup the chapters use becomes plain Markdown, and what it cannot convert stops it with the cell
named (tests/test_notebook_edition.py runs it on the real quick build)."""

import json
import pathlib
import sys

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebook_edition  # noqa: E402

PAGE = """<html><body><section id="the-thing"><h1>The thing<a class="headerlink">#</a></h1>
<div class="math" id="equation-elbo"><span class="eqno">(3.1)<a class="headerlink">#</a></span></div>
<div class="exercise admonition" id="ex-one"><p class="admonition-title">
<span class="caption-number">Exercise 3.1 </span> (One)</p></div>
<div class="proof lemma admonition" id="lem-a"><p class="admonition-title">
<span class="caption-number">Lemma 3.1 </span></p></div>
<div class="cell_output"><pre>vae_helpers 0.1.0 | full mode | data: full MNIST</pre></div></section></body></html>"""

TITLE = ("# The thing\n\n[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
         "(https://colab.research.google.com/github/vae-book/vae-book/blob/v0.1.0/notebooks/03_thing.ipynb)")


def _build(tmp_path, markdown, glue=None):
    """A chapter 03_thing.ipynb whose second Markdown cell is `markdown`, and a build of it."""
    source = tmp_path / "src" / "03_thing.ipynb"
    source.parent.mkdir()
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell(TITLE),
        nbformat.v4.new_code_cell("print('hello')"),
        nbformat.v4.new_markdown_cell(markdown),
    ])
    nbformat.write(notebook, source)
    build = tmp_path / "_build"
    (build / "html" / "notebooks").mkdir(parents=True)
    (build / "html" / "notebooks" / "03_thing.html").write_text(PAGE)
    (build / "html" / "book").mkdir()
    (build / "html" / "book" / "references.html").write_text("<h1>References</h1>")
    executed = build / "jupyter_execute" / "notebooks"
    executed.mkdir(parents=True)
    executed_notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "", outputs=[nbformat.v4.new_output("stream", text="vae_helpers 0.1.0 | full mode | data: full MNIST\n")])])
    nbformat.write(executed_notebook, executed / "03_thing.ipynb")
    record = {name: {"data": {"text/plain": repr(value)}} for name, value in (glue or {}).items()}
    (executed / "03_thing.glue.json").write_text(json.dumps(record))
    return build, source


def _edition(tmp_path, markdown, glue=None):
    build, source = _build(tmp_path, markdown, glue)
    output = tmp_path / "out"
    notebook_edition.write_edition(build, output, sources=[source])
    return [nbformat.read(output / folder / "03_thing.ipynb", as_version=4) for folder in ("notebooks", "student")]


def test_each_kind_of_markup_becomes_plain_markdown(tmp_path):
    markdown = "\n".join([
        "The gap is {glue:text}`gap` nats; see {eq}`elbo`, {prf:ref}`lem-a` and {doc}`../book/references`.",
        "As shown {cite}`kingma2013auto,burda2015importance`.",
        "",
        "$$",
        "a = b",
        "$$ (elbo)",
        "",
        "````{exercise} One",
        ":label: ex-one",
        "",
        "Do it:",
        "```python",
        "x = 1",
        "```",
        "````",
        "",
        "```{solution} ex-one",
        ":class: dropdown",
        "",
        "The answer is 42.",
        "```",
        "",
        "```{admonition} Careful",
        ":class: note",
        "A note.",
        "```",
    ])
    full, student = _edition(tmp_path, markdown, glue={"gap": "1.25"})
    text = full.cells[2].source
    site = "https://vae-book.github.io/vae-book/"
    assert "The gap is 1.25 nats" in text
    assert f"[(3.1)]({site}notebooks/03_thing.html#equation-elbo)" in text
    assert f"[Lemma 3.1]({site}notebooks/03_thing.html#lem-a)" in text
    assert f"[References]({site}book/references.html)" in text
    assert (f"\\[[Kingma and Welling, 2013]({site}book/references.html), "
            f"[Burda et al., 2015]({site}book/references.html)\\]") in text
    assert "a = b\n\\tag{3.1}\n$$" in text and "(elbo)" not in text
    assert "#### Exercise 3.1 (One)" in text and "```python\nx = 1\n```" in text
    assert "<details>\n<summary>Solution to Exercise 3.1</summary>" in text and "The answer is 42." in text
    assert "> **Careful**\n>\n> A note." in text
    assert "{" not in text.replace("\\tag{3.1}", "")
    # The student edition: the same, without the solution, its badge opening the student notebook.
    assert "42" not in student.cells[2].source and "#### Exercise 3.1 (One)" in student.cells[2].source
    assert "/blob/colab-v0.1.0/student/03_thing.ipynb)" in student.cells[0].source
    assert "/blob/colab-v0.1.0/notebooks/03_thing.ipynb)" in full.cells[0].source
    assert "full mode, data: full MNIST" in full.cells[0].source
    assert full.cells[1].source == "print('hello')"


@pytest.mark.parametrize("markdown, message", [
    ("```{figure} a.png\n```", "the directive {figure} has no plain-Markdown form"),
    ("See {term}`ELBO`.", "the role {term} has no plain-Markdown form"),
    ("See {eq}`nowhere`.", "equation 'equation-nowhere' is not on any built page"),
    ("As {cite}`nobody2099`.", "'nobody2099', which book/references.bib lacks"),
    ("The gap is {glue:text}`gap` nats.", "the build glued no value for ['gap']"),
    ("```{exercise}\nno label\n```", "an exercise without a :label:"),
    ("```{admonition} Open\nnever closed", "never closed"),
])
def test_what_it_cannot_convert_stops_it_with_the_cell_named(tmp_path, markdown, message):
    build, source = _build(tmp_path, markdown)
    output = tmp_path / "out"
    with pytest.raises(notebook_edition.EditionError) as error:
        notebook_edition.write_edition(build, output, sources=[source])
    assert message in str(error.value) and "03_thing.ipynb" in str(error.value)
    assert not output.exists()


def test_a_folder_that_is_not_a_build_is_named_with_the_fix(tmp_path):
    with pytest.raises(notebook_edition.EditionError, match="must be a book build's _build folder"):
        notebook_edition.write_edition(tmp_path, tmp_path / "out")
