"""Gives each exercise, solution and proof body its own HTML id.

sphinx-exercise 1.2 and sphinx-proof 0.4 give every body the same id ("exercise-content",
"solution-content", "proof-content"), so a page with two exercises repeats an id: invalid HTML, and
a link to one would land on the first. This numbers them per page (exercise-content-1,
exercise-content-2, ...). Nothing refers to the shared ids: no link, style or script.
"""

from docutils import nodes

SHARED_IDS = ("exercise-content", "solution-content", "proof-content")


def _number_bodies(app, doctree, docname):
    counts = dict.fromkeys(SHARED_IDS, 0)
    for section in doctree.findall(nodes.section):
        for shared in SHARED_IDS:
            if shared in section["ids"]:
                counts[shared] += 1
                section["ids"] = [f"{shared}-{counts[shared]}" if i == shared else i for i in section["ids"]]


def setup(app):
    app.connect("doctree-resolved", _number_bodies)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
