"""Keeps the code the chapters show and the code `vae_helpers` holds one text.

The package is the one hand-edited source. A notebook code cell whose metadata says
`"shows": ["models.make_encoder"]` holds that definition, copied from vae_helpers/models.py:

- "module.name": a function or class, as written in the module (decorators and the comment lines
  right above it included), dedented.
- "module.Class" with "module.Class.method" in the same cell: the class line, its docstring and
  the class attributes above its first member, then those members, indented as in the module.
- "module.Class.method" without its class: the method, dedented and attached to the class the
  chapter defined earlier with `@notebook.add_to_class(Class)` (d2l's way of writing one class over
  several cells, with prose between them).

    python tools/shown_code.py          # rewrite every tagged cell from the package
    python tools/shown_code.py --check  # list the cells that differ; exit 1 if any

A name is a dotted name inside vae_helpers (`models.CVAE.train_step`), never a path. A name that
is not defined, or a notebook that is not valid JSON, is reported by both modes alike (exit 1);
the write mode then rewrites no notebook.

tests/test_shown_code.py runs the check, so a change to either side alone fails the tests.
"""

import argparse
import ast
import difflib
import json
import keyword
import pathlib
import sys
import textwrap

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vae_helpers"
NOTEBOOKS = ROOT / "notebooks"
ATTACH = "@notebook.add_to_class({cls})"
EXAMPLE = "models.CVAE.train_step"


class ShownCodeError(ValueError):
    """A tagged cell names something the package does not define, or a notebook cannot be read."""


def split_name(name):
    """(module, qualname) of a shown name such as "models.CVAE.train_step", or a ShownCodeError
    unless it is a dotted name inside vae_helpers: a path or ".." could name any file.

    The module is the longest leading run of the name's parts that is a module of the package:
    "models.conv.CVAE" is CVAE of vae_helpers/models/conv.py; "models.CVAE" is CVAE as the package
    vae_helpers/models/ re-exports it (`Definitions.defining`)."""
    parts = name.split(".") if isinstance(name, str) else []
    if len(parts) < 2 or not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise ShownCodeError(
            f"{name!r} is not a dotted name inside vae_helpers: write module.name (a function or "
            f"class of vae_helpers/module.py) or module.Class.method, e.g. {EXAMPLE}; a path, "
            "'..' or another package cannot be shown"
        )
    for end in range(len(parts) - 1, 0, -1):
        if module_path(".".join(parts[:end])) is not None:
            return ".".join(parts[:end]), ".".join(parts[end:])
    return parts[0], ".".join(parts[1:])


def module_path(module):
    """The file of a dotted module name of vae_helpers ("models.conv": vae_helpers/models/conv.py;
    a package: its __init__.py), or None."""
    base = PACKAGE.joinpath(*module.split("."))
    for path in (base.parent / f"{base.name}.py", base / "__init__.py"):
        if path.is_file():
            return path
    return None


class Definitions:
    """The top-level definitions of one package module, and the members of its classes."""

    def __init__(self, module):
        if not all(part.isidentifier() for part in module.split(".")):
            raise ShownCodeError(f"{module!r} is not a module name of vae_helpers, e.g. {EXAMPLE}")
        path = module_path(module)
        if path is None:
            raise ShownCodeError(f"vae_helpers has no module {module!r} ({module.replace('.', '/')}.py not found)")
        self.lines = path.read_text().splitlines()
        self.tree = ast.parse("\n".join(self.lines))
        self.top = {node.name: node for node in self.tree.body if _is_definition(node)}
        # Names a package takes from its modules (`from vae_helpers.models.conv import CVAE`).
        self.reexports = {
            alias.asname or alias.name: node.module.removeprefix("vae_helpers.")
            for node in self.tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("vae_helpers.")
            for alias in node.names
        }

    def defining(self, qualname):
        """The module that defines `qualname` when this one only re-exports it, else None."""
        head = qualname.split(".")[0]
        return self.reexports.get(head) if head not in self.top else None

    def node(self, qualname):
        parts = qualname.split(".")
        node = self.top.get(parts[0])
        for part in parts[1:]:
            members = {n.name: n for n in getattr(node, "body", []) if _is_definition(n)}
            node = members.get(part)
        if node is None:
            raise ShownCodeError(f"{qualname!r} is not defined in the module")
        return node

    def source(self, node):
        """The lines of a definition: leading comments, decorators, body; dedented."""
        first = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
        while first > 0 and self.lines[first - 1].strip().startswith("#"):
            first -= 1
        return textwrap.dedent("\n".join(self.lines[first : node.end_lineno])).splitlines()

    def class_header(self, node):
        """The class line, its docstring and the class attributes set before its first member
        (`uses_labels = True`): what the class is, before what it does."""
        end = node.lineno
        for statement in node.body:
            if _is_definition(statement):
                break
            end = statement.end_lineno
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
        module, qualname = split_name(name)
        if name in placed:
            continue
        defs = definitions(module)
        if defs.defining(qualname):
            defs = definitions(defs.defining(qualname))
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


def read_notebook(path):
    """The notebook at `path` as a dict, or a ShownCodeError naming the file and the fix."""
    try:
        notebook = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise ShownCodeError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno}): "
            "repair it there (a merge conflict left in it? a save cut short?) or restore it from "
            "git, then run this again"
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ShownCodeError(f"{path} is not a Jupyter notebook (it has no list of cells)")
    return notebook


def _shown(path, index, cell):
    """The names a cell shows ([] for none), or a ShownCodeError unless they are a list of strings."""
    names = cell.get("metadata", {}).get("shows") if cell.get("cell_type") == "code" else None
    if not names:
        return []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise ShownCodeError(
            f"{path.name} cell {index}: its \"shows\" metadata must be a list of names such as "
            f'["{EXAMPLE}"]; got {names!r}'
        )
    return names


def tagged_cells(paths=None):
    """(notebook path, cell index, names) of every tagged code cell."""
    for path in sorted(paths or NOTEBOOKS.glob("*.ipynb")):
        for index, cell in enumerate(read_notebook(path)["cells"]):
            names = _shown(path, index, cell)
            if names:
                yield path, index, names


def normalise(text):
    """Lines without trailing spaces, blank lines dropped: what must agree."""
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _expected_cells(paths, cache):
    """(notebook path, notebook, [(cell index, names, expected text)], problems): every notebook
    read once; a problem (a name not defined, a notebook not readable) is a line of text."""
    for path in sorted(paths or NOTEBOOKS.glob("*.ipynb")):
        try:
            notebook = read_notebook(path)
        except ShownCodeError as error:
            yield path, None, [], [str(error)]
            continue
        cells, problems = [], []
        for index, cell in enumerate(notebook["cells"]):
            try:
                names = _shown(path, index, cell)
                if names:
                    cells.append((index, names, expected_source(names, cache)))
            except ShownCodeError as error:
                text = str(error)
                problems.append(text if text.startswith(path.name) else f"{path.name} cell {index}: {text}")
        yield path, notebook, cells, problems


def differences(paths=None):
    """A readable diff for every tagged cell that is not the package's text, and a line for every
    name that is not defined and every notebook that cannot be read."""
    found = []
    for path, notebook, cells, problems in _expected_cells(paths, {}):
        found += problems
        for index, names, expected in cells:
            shown = "".join(notebook["cells"][index]["source"])
            if normalise(shown) != normalise(expected):
                diff = difflib.unified_diff(normalise(expected), normalise(shown), "vae_helpers",
                                            f"{path.name} cell {index}", lineterm="", n=1)
                found.append(f"{path.name} cell {index} ({', '.join(names)}) differs from vae_helpers:\n"
                             + "\n".join(diff))
    return found


def shown_names(paths=None):
    """Every name some cell shows, including the members a class cell holds."""
    return {name for _, _, names in tagged_cells(paths) for name in names}


def write(paths=None):
    """Rewrites every tagged cell from the package; returns the cells changed.

    Raises ShownCodeError, before any notebook is written, listing every name that is not
    defined and every notebook that cannot be read (what `differences` reports).
    """
    changed, updated, all_problems = [], [], []
    for path, notebook, cells, problems in _expected_cells(paths, {}):
        all_problems += problems
        touched = False
        for index, _, text in cells:
            cell = notebook["cells"][index]
            if "".join(cell["source"]) != text:
                cell["source"] = text.splitlines(keepends=True)
                changed.append(f"{path.name} cell {index}")
                touched = True
        if touched:
            updated.append((path, notebook))
    if all_problems:
        raise ShownCodeError("\n".join(all_problems) + "\nNo notebook was rewritten.")
    for path, notebook in updated:
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
    try:
        changed = write()
    except ShownCodeError as error:
        print(error)
        return 1
    print("Rewrote " + ", ".join(changed) if changed else "Every shown cell already is the package's text.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
