"""The student pages: the book's pages without their solutions (tools/student_book.py loads this).

sphinx-exercise's `hide_solutions` drops the ```{solution} dropdowns; this removes what it does
not: the code cells tagged "solution" (the hidden cell that solves a coding exercise), and says in
each exercise section that this edition has none. Each chapter's Colab badge opens the student
notebook, as in tools/student_edition.py, so a learner who follows it finds no solution either.
"""

import pathlib
import sys

from docutils import nodes

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"
sys.path.insert(0, str(TOOLS))
import student_edition  # noqa: E402  (tools/ is not a package)
import sync_colab_links  # noqa: E402

SOLUTION_CLASS = f"tag_{student_edition.SOLUTION_TAG}"
"""The class myst-nb gives the container of a code cell tagged "solution"."""


def _remove_solutions(app, doctree):
    for cell in list(doctree.findall(nodes.container)):
        if SOLUTION_CLASS in cell.get("classes", []):
            cell.parent.remove(cell)
    for text in list(doctree.findall(nodes.Text)):
        if student_edition.SOLUTIONS_NOTE in text:
            text.parent.replace(text, nodes.Text(
                text.replace(student_edition.SOLUTIONS_NOTE, student_edition.STUDENT_NOTE)))
    docname = pathlib.Path(app.env.docname)
    if docname.parent.name == "notebooks":
        book, _ = sync_colab_links.expected_links(docname.name + ".ipynb")
        student, _ = sync_colab_links.expected_links(docname.name + ".ipynb", folder="student")
        for link in doctree.findall(nodes.reference):
            if link.get("refuri") == book:
                link["refuri"] = student


def setup(app):
    app.connect("doctree-read", _remove_solutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
