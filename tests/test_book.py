"""The book's sources: notebooks committed clean, Colab links from the one repository setting,
a table of contents that lists what exists, and a README whose test command CI really runs."""

import importlib.metadata
import json
import pathlib
import re

import pytest
import yaml

import vae_helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def _cells(path):
    return json.loads(path.read_text())["cells"]


def _source(cell):
    return "".join(cell["source"])


def test_the_seed_chapters_exist():
    names = {path.name for path in NOTEBOOKS}
    assert {"03_vae_model.ipynb", "04_vae_loss.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: a code cell carries outputs; clear them before committing"
            assert cell["execution_count"] is None, f"{path.name}: a code cell carries an execution count"


def test_the_launch_buttons_open_the_release_of_this_version():
    # The launch buttons open the notebook edition that the Pages workflow publishes for the release.
    assert CONFIG["repository"]["branch"] == f"colab-v{vae_helpers.__version__}", (
        "_config.yml: repository.branch must be the release's edition tag colab-v<vae_helpers.__version__>; "
        "run python tools/sync_colab_links.py")


def test_the_package_version_is_the_one_in_vae_helpers():
    # One number: pyproject.toml takes it from the package (tomllib is not in Python 3.10, hence text).
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and not re.search(r'(?m)^version\s*=\s*"', pyproject)
    assert 'version = {attr = "vae_helpers.__version__"}' in pyproject
    assert importlib.metadata.version("vae_helpers") == vae_helpers.__version__, (
        "the installed vae_helpers is another version: reinstall it (pip install -e .)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_badge_and_install_line_pin_the_release(path):
    url, tag = CONFIG["repository"]["url"].rstrip("/"), f"v{vae_helpers.__version__}"
    owner, name = url.removeprefix("https://github.com/").split("/")
    badge = f"https://colab.research.google.com/github/{owner}/{name}/blob/colab-{tag}/notebooks/{path.name}"
    first, setup = _source(_cells(path)[0]), _source(_cells(path)[1])
    assert "colab-badge.svg" in first and f"({badge})" in first
    assert f'"vae_helpers @ git+{url}@{tag}"' in setup
    # Colab's TensorFlow must survive: the install is guarded, dependency-free, and names no TF.
    assert 'if "google.colab" in sys.modules:' in setup and "--no-deps" in setup
    assert not re.search(r"pip install[^\n]*tensorflow", setup)
    assert "print(notebook.setup_line(" in setup


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_follows_the_template(path):
    markdown = "\n".join(_source(c) for c in _cells(path) if c["cell_type"] == "markdown")
    assert markdown.startswith("# "), "a chapter starts with its title"
    for heading in ("## Learning objectives", "## Summary", "## Exercises", "## References"):
        assert heading in markdown, f"{path.name} lacks '{heading}'"
    order = [markdown.index(h) for h in ("## Learning objectives", "## Summary", "## Exercises", "## References")]
    assert order == sorted(order), f"{path.name}: objectives, summary, exercises, references, in that order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_have_hidden_solutions_and_one_is_checked_by_an_assert(path):
    cells = _cells(path)
    labels = re.findall(r"```\{exercise\}[^\n]*\n:label: ([\w-]+)", "\n".join(_source(c) for c in cells))
    assert 2 <= len(labels) <= 4, f"{path.name}: {len(labels)} exercises"
    solutions = [c for c in cells if "solution" in c.get("metadata", {}).get("tags", [])]
    for label in labels:
        dropdowns = [c for c in solutions if c["cell_type"] == "markdown" and f"{{solution}} {label}" in _source(c)]
        assert len(dropdowns) == 1 and ":class: dropdown" in _source(dropdowns[0]), f"{path.name}: {label} needs one hidden solution"
    hidden_code = [c for c in solutions if c["cell_type"] == "code"]
    assert hidden_code and all("hide-input" in c["metadata"]["tags"] for c in hidden_code)
    checks = [_source(c) for c in cells if c["cell_type"] == "code" and "assert" in _source(c) and "Not done yet" in _source(c)]
    assert checks, f"{path.name}: no coding exercise with a runnable check"


def _files_in_toc(node):
    if isinstance(node, dict):
        found = [node["file"]] if "file" in node else []
        found += [node["root"]] if "root" in node else []
        for value in node.values():
            found += _files_in_toc(value)
        return found
    if isinstance(node, list):
        return [item for value in node for item in _files_in_toc(value)]
    return []


def test_toc_lists_every_notebook_and_only_files_that_exist():
    listed = _files_in_toc(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    for entry in listed:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".md", ".ipynb")), f"_toc.yml lists missing {entry}"
    for path in NOTEBOOKS:
        assert f"notebooks/{path.stem}" in listed, f"{path.name} is not in _toc.yml"


def test_display_math_is_labelled_latex_not_images():
    sources = [(path.name, _source(c)) for path in NOTEBOOKS for c in _cells(path) if c["cell_type"] == "markdown"]
    sources += [(path.name, path.read_text()) for path in (ROOT / "book").glob("*.md")]
    labelled = 0
    for name, text in sources:
        assert not re.search(r"!\[[^\]]*\]\([^)]*\.(png|svg|gif)\)", text.replace("colab-badge.svg", "")), f"{name}: an image where LaTeX belongs?"
        labelled += len(re.findall(r"\$\$ \((?P<label>[a-z0-9-]+)\)", text))
    assert labelled >= 8


def test_no_local_paths_in_sources():
    pattern = re.compile(r"/(root|home|tmp|work|Users)/")
    for path in [*NOTEBOOKS, *(ROOT / "book").glob("*.md"), ROOT / "_config.yml", ROOT / "README.md"]:
        assert not pattern.search(path.read_text()), f"{path.name} names a local path"


def test_ci_runs_the_test_command_that_the_readme_prints():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"<!-- test-command -->\n```bash\n(.+?)\n```", readme, flags=re.S)
    assert len(commands) == 1, "README must print exactly one marked test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci, ".ci/run must take its test command from README"
    # The book build with warnings as errors runs inside the test suite (the `book` fixture of
    # tests/conftest.py, which tests/test_browser.py opens).
    fixture = (ROOT / "tests" / "conftest.py").read_text()
    assert '"build", str(ROOT), "--all", "-W", "-n", "--keep-going"' in fixture


CODE_WIDTH = 76
"""Characters of a code line the rendered page shows without a horizontal scroll bar: at every
desktop width the browser test holds (1,100-1,920 px; _static/layout.css) the code box is at least
700 pixels wide, with 8.4-pixel characters and its padding. tests/test_browser.py checks the
built pages."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_code_lines_fit_the_page(path):
    wide = [(index, line) for index, cell in enumerate(_cells(path)) if cell["cell_type"] == "code"
            for line in _source(cell).splitlines() if len(line) > CODE_WIDTH]
    assert not wide, (f"{path.name}: code lines wider than {CODE_WIDTH} characters scroll sideways in the "
                      f"book; break them: {wide}")
