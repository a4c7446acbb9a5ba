"""Numbers in a chapter's prose come from executed cells (`notebook.glue` + {glue:text}), not typed.

The scan looks at the markdown cells of every notebook and reports each number typed into the
prose. It ignores what is not prose or not a result:

* maths (`$...$`, `$$...$$` with its label), code spans and code blocks (a directive such as
  ```` ```{exercise} ```` is prose; only its fence and `:option:` lines are skipped);
* roles ({glue:text}, {cite}, {eq}, {doc}, ...), link targets, bare URLs and issue numbers (#123);
* references by number: "chapter 4", "chapters 1-2", "the chapter-3 model", "Exercise 2.1",
  "Figure 4", "Section 3", "Table 1", "Appendix B";
* a heading's leading chapter or section number;
* the published-results table of chapter 7 (the markdown table whose header row names a
  "Source"): those numbers are quoted from papers, with their citation;
* whatever `prose_number_allowlist.txt` allows, one entry a line, each with its reason.

An allow-list entry that matches nothing fails too, so the list shrinks as numbers get glued.
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ALLOWLIST = pathlib.Path(__file__).resolve().parent / "prose_number_allowlist.txt"

FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,}|:{3,})\s*(?P<info>.*)$")
OPTION = re.compile(r"^\s*:[\w-]+:")
NUMBER = re.compile(r"(?<![\w.#])[0-9]+(?:[.,][0-9]+)*%?")  # "#123" names an issue
REFERENCE_WORDS = r"(?:chapters?|exercises?|figures?|fig\.|sections?|theorems?|lemmas?|tables?|appendix|equations?|eq\.)"
REFERENCE = re.compile(
    REFERENCE_WORDS + r"[\s-]+[0-9]+(?:\.[0-9]+)*(?:\s*(?:[-–,]|and|or|to)\s*[0-9]+(?:\.[0-9]+)*)*",
    re.IGNORECASE,
)
INLINE = [
    re.compile(r"\$\$.*?\$\$(?:\s*\([\w:-]+\))?", re.S),  # display maths and its label
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {glue:text}`name`, {cite}`key`, {eq}`label`
    re.compile(r"(`+).*?\1", re.S),  # code spans
    re.compile(r"(?<!\\)\$[^$]+\$", re.S),  # inline maths
    re.compile(r"<!--.*?-->", re.S),
    re.compile(r"!\[[^\]]*\]\([^)]*\)"),  # images
    re.compile(r"(?<=\])\([^)]*\)"),  # link targets (the link text stays)
    re.compile(r"https?://\S+"),
]


def _prose_lines(markdown, skip_published_table):
    """The lines of a markdown cell that are prose: code blocks, fences, directive options and
    (in chapter 7) the published-results table dropped."""
    lines, stack, in_skipped_table = [], [], False
    for line in markdown.split("\n"):
        stripped = line.strip()
        fence = FENCE.match(stripped)
        if stack and stack[-1][0] == "code":
            opener = stack[-1][1]
            if fence and not fence["info"] and fence["fence"][0] == opener[0] and len(fence["fence"]) >= len(opener):
                stack.pop()
            continue
        if fence:
            kind = "directive" if fence["info"].startswith("{") else None
            if kind is None and not fence["info"]:
                opener = stack[-1][1] if stack else ""
                if opener[:1] == fence["fence"][0] and len(fence["fence"]) >= len(opener):
                    stack.pop()  # closes a directive
                    continue
                kind = "code"
            if kind is None:
                kind = "code"  # ```python and the like
            stack.append((kind, fence["fence"]))
            continue
        if stack and OPTION.match(line):
            continue
        if stripped.startswith("|"):
            if skip_published_table and not in_skipped_table and re.search(r"\bSource\b", stripped):
                in_skipped_table = True
            if in_skipped_table:
                continue
        else:
            in_skipped_table = False
        lines.append(re.sub(r"^(#+\s+)[0-9]+(?:\.[0-9]+)*\.?\s", r"\1", line))
    return lines


def prose_text(markdown, skip_published_table=False):
    """The prose of a markdown cell as one line, with maths, code, roles, links and references
    by number blanked out."""
    text = " ".join(_prose_lines(markdown, skip_published_table))
    for pattern in INLINE:
        text = pattern.sub(" ", text)
    text = REFERENCE.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def typed_numbers(notebook_path):
    """[(cell index, number, prose text, (start, end))] for every number typed into the prose."""
    cells = json.loads(pathlib.Path(notebook_path).read_text(encoding="utf-8"))["cells"]
    published = pathlib.Path(notebook_path).name.startswith("07_")
    hits = []
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        text = prose_text("".join(cell["source"]), skip_published_table=published)
        hits += [(index, match.group(), text, match.span()) for match in NUMBER.finditer(text)]
    return hits


def read_allowlist(path=ALLOWLIST):
    """[(line number, notebook stem or '*', phrase, reason)], from `stem | phrase | reason` lines."""
    entries = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(
                f"{path.name}, line {number}: expected 'notebook stem or * | phrase | reason', got {line!r}."
            )
        entries.append((number, *parts))
    return entries


def unallowed(notebook_path, entries):
    """The typed numbers of one notebook that no allow-list entry covers, and the entries used."""
    stem, left, used = pathlib.Path(notebook_path).stem, [], set()
    for index, number, text, (start, end) in typed_numbers(notebook_path):
        covering = [
            entry
            for entry in entries
            if entry[1] in (stem, "*")
            and any(
                match.start() <= start and end <= match.end() for match in re.finditer(re.escape(entry[2]), text)
            )
        ]
        used.update(entry[0] for entry in covering)
        if not covering:
            context = text[max(0, start - 50) : end + 50]
            left.append(f"{stem}.ipynb, cell {index}: {number!r} in '...{context}...'")
    return left, used


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_numbers_in_prose_are_glued(path):
    left, _ = unallowed(path, read_allowlist())
    assert not left, (
        "numbers typed into the prose: quote them from a cell with notebook.glue(name, value) and "
        "{glue:text}`name`, or, if a number is not a result (a definition, a design constant), "
        "add 'stem | phrase | reason' to tests/prose_number_allowlist.txt:\n" + "\n".join(left)
    )


def test_every_allowlist_entry_is_still_needed():
    entries = read_allowlist()
    used = set()
    for path in NOTEBOOKS:
        used |= unallowed(path, entries)[1]
    stale = [f"line {number}: {stem} | {phrase}" for number, stem, phrase, _ in entries if number not in used]
    assert not stale, "allow-list entries that no prose needs any more (delete them):\n" + "\n".join(stale)


def test_the_scan_catches_a_planted_number_and_ignores_maths_code_roles_and_references(tmp_path):
    chapter = json.loads((ROOT / "notebooks" / "02_elbo.ipynb").read_text(encoding="utf-8"))
    planted = (
        "The loss fell by 3.2 nats, with $d = 2$, `num_samples=100`, {glue:text}`variance_ratio`,\n"
        "{cite}`kingma2013auto`, chapter 4, the chapter-3 model and Exercise 2.1.\n\n"
        "```python\nx = 12\n```\n\n```{exercise} A title\n:label: ex-planted\n\nA body with 7 apples.\n```"
    )
    chapter["cells"].append({"cell_type": "markdown", "id": "planted", "metadata": {}, "source": planted})
    path = tmp_path / "02_elbo.ipynb"
    path.write_text(json.dumps(chapter), encoding="utf-8")

    left, _ = unallowed(path, read_allowlist())
    planted_cell = len(chapter["cells"]) - 1
    assert [line.split(":")[0] for line in left] == ["02_elbo.ipynb, cell %d" % planted_cell] * 2, left
    assert "'3.2'" in left[0] and "'7'" in left[1]
    # The chapter itself, without the planted cell, has none left.
    assert not unallowed(ROOT / "notebooks" / "02_elbo.ipynb", read_allowlist())[0]


def test_an_allowlist_entry_allows_only_the_numbers_inside_its_phrase(tmp_path):
    allowlist = tmp_path / "allow.txt"
    allowlist.write_text("# comment\n02_elbo | of 3.2 nats | a planted example\n", encoding="utf-8")
    chapter = {"cells": [{"cell_type": "markdown", "source": "Fell by 3.2 nats, not of 3.2 nats; 5 left."}]}
    path = tmp_path / "02_elbo.ipynb"
    path.write_text(json.dumps(chapter), encoding="utf-8")
    left, used = unallowed(path, read_allowlist(allowlist))
    assert [line.split(": ", 1)[1].split(" in ")[0] for line in left] == ["'3.2'", "'5'"]
    assert used == {2}
    allowlist.write_text("02_elbo | a phrase without its reason\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 1"):
        read_allowlist(allowlist)
