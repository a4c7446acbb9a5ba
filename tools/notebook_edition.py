"""Writes the notebook edition of the book, for Jupyter and Colab: the chapters with their MyST
markup turned into the plain Markdown those renderers know, and numbers from a build.

    python tools/notebook_edition.py BUILD_DIR OUTPUT_DIR [--overwrite]

BUILD_DIR is the `_build` folder of a book build (`jupyter-book build .` writes `_build/html` and
`_build/jupyter_execute`; with `--path-output P` it is `P/_build`). OUTPUT_DIR gets two folders:
`notebooks/`, the edition of every chapter, and `student/`, the same without solutions. The
Pages workflow publishes both under the tag `colab-v<version>` (see README), where the chapters'
Colab badges and the book's launch buttons open them.

What changes, and only in Markdown cells (code cells, their order and their metadata stay):
- `{glue:text}` roles become the value the build pasted (from its executed notebooks), and a line
  under each chapter's title says which build that was (its mode and data);
- exercises become headed blocks ("Exercise 7.2"), solutions collapsed `<details>` blocks (gone
  in `student/`), admonitions and proofs block quotes;
- `{cite}` becomes author-year text linking to the references page, `{eq}`, `{prf:ref}` and
  `{ref}` the numbers the book shows, `{doc}` links to the published pages, and each labelled
  equation carries its number as a `\\tag`.
Markup the tool does not know stops it, naming the cell: nothing is left for a reader to decode.
The chapters in notebooks/ stay the one hand-edited source.
"""

import argparse
import ast
import html
import pathlib
import re
import sys

import nbformat
from bs4 import BeautifulSoup

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import student_edition  # noqa: E402  (tools/ is not a package)
import sync_colab_links  # noqa: E402

ROLE = re.compile(r"\{(?P<name>[a-z][a-z:-]*)\}`(?P<content>[^`]*)`")
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[a-z][a-z:-]*)\}\s*(?P<argument>.*)$")
LABELLED_MATH = re.compile(r"^\$\$\s*\((?P<label>[^)]+)\)\s*$")
TARGET = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*$")
OPTION = re.compile(r"^:(?P<key>[a-z-]+):\s*(?P<value>.*)$")
PRINTED_MODE = re.compile(r"\| (?P<mode>quick mode|full mode)(?: \| data: (?P<data>[^\n]*))?")


HIDDEN_TITLE = "#@title Solution (hidden: double-click to show the code)"
"""The first line of a solution's code cell in the edition: Colab shows it instead of the code."""


class EditionError(ValueError):
    """Markup the edition cannot turn into plain Markdown, or a build that lacks what it needs."""


# --- What the build knows: glued values, numbers of labels, page titles --------------------------

def glued_values(executed_notebook):
    """{name: text} of every value a chapter glued, as `{glue:text}` pastes it. The build keeps
    them beside the executed notebook (NAME.glue.json; myst-nb strips them from the notebook's
    outputs), or they are still in the outputs of a notebook executed elsewhere (nbval)."""
    import json

    from myst_nb.core.variables import format_plain_text
    from myst_nb.ext.glue import extract_glue_data_cell

    record = executed_notebook.with_suffix(".glue.json")
    if record.is_file():
        outputs = json.loads(record.read_text()).items()
    else:
        outputs = [pair for cell in nbformat.read(executed_notebook, as_version=4).cells
                   if cell.cell_type == "code" for pair in extract_glue_data_cell(cell)]
    return {name: format_plain_text(output["data"]["text/plain"], "")
            for name, output in outputs if "text/plain" in output.get("data", {})}


def printed_run(page):
    """(mode, data) from the setup line a chapter printed, as its built `page` (HTML) shows it, or
    None where it printed none."""
    soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
    for output in soup.select("div.cell_output"):
        match = PRINTED_MODE.search(output.get_text())
        if match:
            return match.group("mode"), (match.group("data") or "").strip()
    return None


class BuiltBook:
    """The numbers and titles the built HTML shows: what `{eq}`, `{prf:ref}`, `{ref}`, exercises and
    `{doc}` become in the edition, read off the pages so that they match what a reader saw."""

    def __init__(self, html_dir):
        self.html_dir = pathlib.Path(html_dir)
        self.labels, self.titles = {}, {}  # label -> (page, text); page -> title
        for page in sorted(self.html_dir.glob("*/*.html")):
            relative = page.relative_to(self.html_dir).with_suffix("").as_posix()
            soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
            heading = soup.find("h1")
            if heading:
                self.titles[relative] = heading.get_text(" ", strip=True).rstrip("#").strip()
            for element in soup.find_all(id=True):
                text = self._shown_number(element)
                if text:
                    self.labels.setdefault(element["id"], (relative, text))

    @staticmethod
    def _shown_number(element):
        if element["id"].startswith("equation-"):
            number = element.find(class_="eqno")
            return number.get_text(strip=True).rstrip("#").strip() if number else None
        caption = element.find(class_="caption-number")
        if caption:
            return caption.get_text(strip=True)
        if element.name == "section":  # a section target: its numbered heading
            heading = element.find(re.compile(r"h[1-6]"))
            return heading.get_text(" ", strip=True).rstrip("#").strip() if heading else None
        return None

    def number(self, label, what):
        if label not in self.labels:
            raise EditionError(f"{what} {label!r} is not on any built page: was the build complete?")
        return self.labels[label]


def bibliography(bib_file):
    """{key: "Kingma and Welling, 2013"}, the author-year text the book's citations show."""
    entries = {}
    for match in re.finditer(r"@\w+\{([^,\s]+),(.*?)\n\}", bib_file.read_text(), flags=re.S):
        fields = dict(re.findall(r"(\w+)\s*=\s*\{((?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*)\}", match.group(2)))
        authors = [_surname(name) for name in re.split(r"\s+and\s+", fields.get("author", "").strip())]
        if len(authors) > 2:
            names = f"{authors[0]} et al."
        else:
            names = " and ".join(authors)
        entries[match.group(1)] = f"{names}, {fields.get('year', 'n.d.')}"
    return entries


def _surname(name):
    name = name.strip()
    if name.startswith("{") and name.endswith("}"):  # a corporate author, kept whole
        return name[1:-1]
    surname = name.split(",")[0] if "," in name else name.split()[-1]
    return _latex_text(surname)


def _latex_text(text):
    accents = {"'": "\u0301", '"': "\u0308", "`": "\u0300", "^": "\u0302", "~": "\u0303"}
    text = re.sub(r"\{\\(['\"`^~])\{?(\w)\}?\}", lambda m: m.group(2) + accents[m.group(1)], text)
    import unicodedata

    return unicodedata.normalize("NFC", text.replace("{", "").replace("}", ""))


# --- One chapter's Markdown ----------------------------------------------------------------------

class Chapter:
    """Turns the Markdown cells of one chapter into plain Markdown."""

    def __init__(self, name, glue, book, citations, site, student):
        self.name, self.glue, self.book = name, glue, book
        self.citations, self.site, self.student = citations, site, student
        self.page = f"notebooks/{name}"
        self.missing = []

    def url(self, page, anchor=""):
        return f"{self.site}{page}.html" + (f"#{anchor}" if anchor else "")

    def convert(self, source, where):
        """The plain Markdown of one cell's `source`; `where` names the cell in errors."""
        self.where = where
        try:
            return "\n".join(self._blocks(source.split("\n"))).strip("\n")
        except EditionError as error:
            if str(error).startswith(where):
                raise
            raise EditionError(f"{where}: {error}") from None

    def _blocks(self, lines):
        out, index = [], 0
        while index < len(lines):
            line = lines[index]
            fence = FENCE.match(line)
            if fence:
                end = self._closing(lines, index, fence.group("fence"))
                out.extend(self._directive(fence, lines[index + 1:end]))
                index = end + 1
                continue
            if line.startswith("```") or line.startswith("~~~"):  # a plain code block: kept as is
                end = self._closing(lines, index, re.match(r"[`~]+", line).group(0))
                out.extend(lines[index:end + 1])
                index = end + 1
                continue
            math = LABELLED_MATH.match(line)
            target = TARGET.match(line)
            if math:
                _, number = self.book.number(f"equation-{math.group('label')}", "equation")
                out += [f"\\tag{{{number.strip('()')}}}", "$$"]
            elif target:
                out.append(f'<a id="{target.group("label")}"></a>')
            else:
                out.append(self._inline(line))
            index += 1
        return out

    def _closing(self, lines, start, fence):
        """The index of the line that closes the fence opened at `start`: a bare run of the same
        character, at least as long, outside any fence opened inside it."""
        depth = 0
        for index in range(start + 1, len(lines)):
            stripped = lines[index].strip()
            run = re.match(r"([`:~])\1{2,}", stripped)
            if not run:
                continue
            if stripped != run.group(0):  # an opening fence with an info string
                depth += 1
            elif depth:
                depth -= 1
            elif run.group(1) == fence[0] and len(stripped) >= len(fence):
                return index
        raise EditionError(f"{self.where}: a {fence} block that is never closed")

    def _directive(self, fence, body):
        options = {}
        while body and OPTION.match(body[0]):
            key, value = OPTION.match(body[0]).groups()
            options[key] = value
            body = body[1:]
        while body and not body[0].strip():
            body = body[1:]
        name, argument = fence.group("name"), fence.group("argument").strip()
        inner = self._blocks(body)
        if name == "exercise":
            label = options.get("label")
            if not label:
                raise EditionError(f"{self.where}: an exercise without a :label: has no number to show")
            _, number = self.book.number(label, "exercise")
            title = f" ({self._inline(argument)})" if argument else ""
            return [f'<a id="{label}"></a>', "", f"#### {number}{title}", "", *inner]
        if name == "solution":
            if self.student:
                return []
            _, number = self.book.number(argument, "exercise")
            return ["<details>", f"<summary>Solution to {number}</summary>", "", *inner, "", "</details>"]
        if name.startswith("prf:"):
            kind = name.split(":", 1)[1].capitalize()
            label = options.get("label")
            number = self.book.number(label, kind.lower())[1] if label else kind
            title = f" ({self._inline(argument)})" if argument else ""
            anchor = [f'<a id="{label}"></a>', ""] if label else []
            return anchor + _quote([f"**{number}**{title}", "", *inner])
        if name in ("admonition", "note", "tip", "important", "warning", "caution", "seealso"):
            title = self._inline(argument) if name == "admonition" else name.capitalize()
            return _quote([f"**{title}**", "", *inner] if title else inner)
        raise EditionError(f"{self.where}: the directive {{{name}}} has no plain-Markdown form in "
                           "tools/notebook_edition.py: add one there")

    def _inline(self, line):
        return ROLE.sub(self._role, line)

    def _role(self, match):
        name, content = match.group("name"), match.group("content")
        if name == "glue:text":
            key = content.rsplit(":", 1)[0] if ":" in content else content
            if key not in self.glue:
                self.missing.append(key)
                return match.group(0)
            if ":" in content:
                from myst_nb.core.variables import format_plain_text

                return format_plain_text(repr(self.glue[key]), content.rsplit(":", 1)[1])
            return self.glue[key]
        if name == "cite":
            links = []
            for key in (part.strip() for part in content.split(",")):
                if key not in self.citations:
                    raise EditionError(f"{self.where}: {{cite}} names {key!r}, which book/references.bib lacks")
                links.append(f"[{self.citations[key]}]({self.url('book/references')})")
            return "\\[" + ", ".join(links) + "\\]"
        if name == "eq":
            page, number = self.book.number(f"equation-{content}", "equation")
            return f"[{number}]({self.url(page, 'equation-' + content)})"
        if name in ("prf:ref", "ref", "numref"):
            text, label = _text_and_target(content)
            page, number = self.book.number(label, "reference")
            return f"[{text or number}]({self.url(page, label)})"
        if name == "doc":
            text, target = _text_and_target(content)
            page = _resolve(self.page, target)
            if page not in self.book.titles:
                raise EditionError(f"{self.where}: {{doc}} names {target!r}, which is not a built page")
            return f"[{text or self.book.titles[page]}]({self.url(page)})"
        raise EditionError(f"{self.where}: the role {{{name}}} has no plain-Markdown form in "
                           "tools/notebook_edition.py: add one there")


def _quote(lines):
    return [f"> {line}".rstrip() for line in lines]


def _text_and_target(content):
    match = re.fullmatch(r"(?s)(.*?)\s*<([^>]+)>", content)
    return (match.group(1).strip(), match.group(2).strip()) if match else ("", content.strip())


def _resolve(page, target):
    """The page a `{doc}` target names, relative to `page` ("notebooks/05_training")."""
    if target.startswith("/"):
        return target.lstrip("/")
    parts = page.split("/")[:-1]
    for part in target.split("/"):
        if part == "..":
            parts = parts[:-1]
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


# --- The whole edition ---------------------------------------------------------------------------

def run_line(run, site):
    mode, data = run
    data = f", data: {data}" if data else ""
    return (f"*Numbers in the text come from the book's published build ([this chapter online]"
            f"({site}): {mode}{data}); your own run prints its own numbers in the outputs.*")


def edition(source, executed, book, citations, site, tag, student=False, grading=False):
    """The edition of one chapter: a notebook node (its grading cells, hidden tests, only if
    `grading`: tools/assignments.py asks for them). Raises EditionError on markup it cannot turn
    into plain Markdown, and on a glued name the build has no value for."""
    name = source.stem
    notebook = nbformat.read(source, as_version=4)
    chapter = Chapter(name, glued_values(executed), book, citations, site, student)
    run = printed_run(book.html_dir / "notebooks" / f"{name}.html")
    if not grading:
        notebook.cells = [cell for cell in notebook.cells if not student_edition.is_grading(cell)]
    if student:
        notebook.cells = [cell for cell in notebook.cells if not student_edition.is_solution(cell)]
    folder = "student" if student else "notebooks"
    badge, _ = sync_colab_links.expected_links(source.name, tag, folder=folder)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and "hide-input" in cell.metadata.get("tags", []):
            # What the book hides behind a click stays hidden: JupyterLab collapses the cell, and
            # Colab shows a form cell's title in place of its code (double-click to see it).
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            cell.metadata["cellView"] = "form"
            cell.source = f"{HIDDEN_TITLE}\n{cell.source}"
        if cell.cell_type == "markdown" and student:
            cell.source = cell.source.replace(student_edition.SOLUTIONS_NOTE, student_edition.STUDENT_NOTE)
        if cell.cell_type != "markdown":
            continue
        text = chapter.convert(cell.source, f"{source.name}, cell {index}")
        if index == 0:
            text = re.sub(r"https://colab\.research\.google\.com/github/[^)\s\"]+", badge, text)
            if run:
                text += "\n\n" + run_line(run, chapter.url(chapter.page))
        cell.source = text
    if chapter.missing:
        raise EditionError(f"{source.name}: the build glued no value for {sorted(set(chapter.missing))}: "
                           "build the book again (every chapter executed) and rerun.")
    nbformat.validate(notebook)
    return notebook


def write_edition(build, output, overwrite=False, sources=None):
    """Writes OUTPUT/notebooks and OUTPUT/student from the build in `build`; every chapter is
    converted before any file is written, so a chapter that fails leaves OUTPUT untouched."""
    build, output = pathlib.Path(build), pathlib.Path(output)
    sources = sorted(sources or (ROOT / "notebooks").glob("*.ipynb"))
    executed_dir, html_dir = build / "jupyter_execute" / "notebooks", build / "html"
    for needed in (executed_dir, html_dir):
        if not needed.is_dir():
            raise EditionError(f"{needed} is missing: BUILD_DIR must be a book build's _build folder "
                               "(run `jupyter-book build .` first).")
    site = sync_colab_links.pages_site()
    tag = sync_colab_links.release_tag()
    book, citations = BuiltBook(html_dir), bibliography(ROOT / "book" / "references.bib")
    written = {}
    for source in sources:
        executed = executed_dir / source.name
        if not executed.is_file():
            raise EditionError(f"{executed} is missing: the build did not execute {source.name}.")
        for folder, student in (("notebooks", False), ("student", True)):
            written[f"{folder}/{source.name}"] = edition(source, executed, book, citations, site, tag, student)
    check_output(output, overwrite)
    for relative, notebook in written.items():
        (output / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, output / relative)
    return sorted(written)


def check_output(output, overwrite):
    book = ROOT / "notebooks"
    if any(student_edition._same_file(output / folder, book) for folder in ("notebooks", "student")) \
            or student_edition._same_file(output, ROOT):
        raise EditionError(f"refusing to write to {output}: the edition would replace the book's own "
                           "chapters. Choose another OUTPUT_DIR.")
    if output.exists() and not output.is_dir():
        raise EditionError(f"refusing to write to {output}: it is a file. Choose another OUTPUT_DIR.")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise EditionError(f"refusing to write to {output}: it is not empty, and notebooks there "
                           "(a learner's work) would be overwritten. Choose a new or empty folder, or "
                           "pass --overwrite to replace the edition's notebooks in it.")


def build_and_output_args(argv, doc, replaced):
    """The command line of a tool that writes from a build into a folder (this one and
    tools/assignments.py): BUILD_DIR OUTPUT_DIR [--overwrite]; `replaced` names what
    --overwrite replaces."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0], epilog=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", metavar="BUILD_DIR", help="a book build's _build folder")
    parser.add_argument("output", metavar="OUTPUT_DIR", help="a new or empty folder")
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace {replaced} in a folder that is not empty")
    return parser.parse_args(argv)


def main(argv):
    args = build_and_output_args(argv, __doc__, "the edition's notebooks")
    try:
        written = write_edition(args.build, args.output, args.overwrite)
    except EditionError as error:
        raise SystemExit(f"notebook_edition: {error}") from None
    print(f"wrote {len(written)} notebooks to {args.output}: notebooks/ (the edition) and student/")


if __name__ == "__main__":
    main(sys.argv[1:])
