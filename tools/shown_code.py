"""Keeps the code the chapters show and the code `vae_helpers` holds one text.

The package is the one hand-edited source. A notebook code cell whose metadata says
`"shows": ["models.make_encoder"]` holds that definition, copied from vae_helpers/models.py:

- "module.name": a function or class, as written in the module (decorators and the comment lines
  right above it included), dedented.
- "module.Class" with "module.Class.method" in the same cell: the class line and its docstring,
  then those members, indented as in the module.
- "module.Class.method" without its class: the method, dedented and attached to the class the
  chapter defined earlier with `@notebook.add_to_class(Class)` (d2l's way of writing one class over
  several cells, with prose between them).

    python tools/shown_code.py          # rewrite every tagged cell from the package
    python tools/shown_code.py --check  # list the cells that differ; exit 1 if any

tests/test_shown_code.py runs the check, so a change to either side alone fails the tests.
"""

import argparse
import ast
import difflib
import json
import pathlib
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vae_helpers"
NOTEBOOKS = ROOT / "notebooks"
ATTACH = "@notebook.add_to_class({cls})"


class Definitions:
    """The top-level definitions of one package module, and the members of its classes."""

    def __init__(self, module):
        path = PACKAGE / f"{module}.py"
        if not path.exists():
            raise KeyError(f"vae_helpers has no module {module!r} ({path.name} not found)")
        self.lines = path.read_text().splitlines()
        self.tree = ast.parse("\n".join(self.lines))
        self.top = {node.name: node for node in self.tree.body if _is_definition(node)}

    def node(self, qualname):
        parts = qualname.split(".")
        node = self.top.get(parts[0])
        for part in parts[1:]:
            members = {n.name: n for n in getattr(node, "body", []) if _is_definition(n)}
            node = members.get(part)
        if node is None:
            raise KeyError(f"{qualname!r} is not defined in the module")
        return node

    def source(self, node):
        """The lines of a definition: leading comments, decorators, body; dedented."""
        first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        while first > 0 and self.lines[first - 1].strip().startswith("#"):
            first -= 1
        return textwrap.dedent("\n".join(self.lines[first : node.end_lineno])).splitlines()

    def class_header(self, node):
        """The class line and its docstring, if any."""
        end = node.body[0].end_lineno if _docstring(node) else node.lineno
        return textwrap.dedent("\n".join(self.lines[node.lineno - 1 : end])).splitlines()

    def members(self, qualname):
        """Names of the definitions in a class body (methods and properties), in order."""
        return [n.name for n in self.node(qualname).body if _is_definition(n)]

    def statements_besides_members(self, qualname):
        """Class-body statements that are neither a member nor the docstring (none may hide)."""
        node = self.node(qualname)
        body = node.body[1:] if _docstring(node) else node.body
        return [ast.unparse(n) for n in body if not _is_definition(n)]


def _is_definition(node):
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def _docstring(node):
    return bool(node.body) and isinstance(node.body[0], ast.Expr) and isinstance(
        getattr(node.body[0], "value", None), ast.Constant) and isinstance(node.body[0].value.value, str)


def expected_source(names, cache=None):
    """The text a cell tagged with `names` must hold."""
    cache = {} if cache is None else cache

    def definitions(module):
        if module not in cache:
            cache[module] = Definitions(module)
        return cache[module]

    blocks, placed = [], set()
    for name in names:
        module, _, qualname = name.partition(".")
        if not qualname:
            raise KeyError(f"{name!r}: write module.name, e.g. models.CVAE")
        if name in placed:
            continue
        defs = definitions(module)
        node = defs.node(qualname)
        if isinstance(node, ast.ClassDef):
            lines = defs.class_header(node)
            for member in defs.members(qualname):
                if f"{name}.{member}" in names:
                    placed.add(f"{name}.{member}")
                    lines += [""] + textwrap.indent(
                        "\n".join(defs.source(defs.node(f"{qualname}.{member}"))), "    ").splitlines()
            blocks.append(lines)
        elif "." in qualname:
            owner = qualname.rsplit(".", 1)[0]
            blocks.append([ATTACH.format(cls=owner.split(".")[-1])] + defs.source(node))
        else:
            blocks.append(defs.source(node))
        placed.add(name)
    return "\n\n".join("\n".join(lines) for lines in blocks)


def tagged_cells(paths=None):
    """(notebook path, cell index, names) of every tagged code cell."""
    for path in sorted(paths or NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            names = cell.get("metadata", {}).get("shows")
            if cell["cell_type"] == "code" and names:
                yield path, index, list(names)


def normalise(text):
    """Lines without trailing spaces, blank lines dropped: what must agree."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def differences(paths=None):
    """A readable diff for every tagged cell that is not the package's text."""
    found, cache = [], {}
    for path, index, names in tagged_cells(paths):
        cell = json.loads(path.read_text())["cells"][index]
        try:
            expected = expected_source(names, cache)
        except KeyError as error:
            found.append(f"{path.name} cell {index}: {error.args[0]}")
            continue
        shown = "".join(cell["source"])
        if normalise(shown) != normalise(expected):
            diff = difflib.unified_diff(normalise(expected), normalise(shown), "vae_helpers", f"{path.name} cell {index}",
                                        lineterm="", n=1)
            found.append(f"{path.name} cell {index} ({', '.join(names)}) differs from vae_helpers:\n" + "\n".join(diff))
    return found


def shown_names(paths=None):
    """Every name some cell shows, including the members a class cell holds."""
    return {name for _, _, names in tagged_cells(paths) for name in names}


def write(paths=None):
    """Rewrites every tagged cell from the package; returns the cells changed."""
    changed, cache = [], {}
    for path in sorted(paths or NOTEBOOKS.glob("*.ipynb")):
        raw = path.read_text()
        notebook = json.loads(raw)
        touched = False
        for index, cell in enumerate(notebook["cells"]):
            names = cell.get("metadata", {}).get("shows")
            if cell["cell_type"] != "code" or not names:
                continue
            text = expected_source(list(names), cache)
            if "".join(cell["source"]) != text:
                cell["source"] = text.splitlines(keepends=True)
                changed.append(f"{path.name} cell {index}")
                touched = True
        if touched:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return changed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report cells that differ")
    args = parser.parse_args(argv)
    if args.check:
        found = differences()
        print("\n\n".join(found) if found else "Every shown cell is the package's text.")
        return 1 if found else 0
    changed = write()
    print("Rewrote " + ", ".join(changed) if changed else "Every shown cell already is the package's text.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
