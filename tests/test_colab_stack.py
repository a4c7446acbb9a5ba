"""Colab's older stack stays checked: CI runs every chapter on it, with the command README gives."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tools" / "colab_stack_check.sh"


def test_ci_runs_the_chapters_on_colabs_stack():
    jobs = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())["jobs"]
    runs = {name: [step.get("run", "") for step in job["steps"]] for name, job in jobs.items()}
    assert "tools/colab_stack_check.sh" in runs["colab-stack"]
    assert ".ci/run" in runs["test"], "the main job still runs local CI"


def test_the_script_installs_colabs_versions_and_vae_helpers_without_its_dependencies():
    text = SCRIPT.read_text()
    for pin in ("tensorflow==2.19.0", "keras==3.10.0", "numpy==2.0.2"):
        assert re.search(rf"(^|\s){re.escape(pin)}(\s|$)", text, flags=re.M), pin
    assert re.search(r"pip\" install .*--no-deps .* \.$", text, flags=re.M)
    # Its own environment, never the repository's .venv, and the notebooks under nbval in quick mode.
    commands = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert ".venv" not in commands
    assert "VAE_QUICK=1" in text and "--nbval-lax" in text and "--nbval-current-env" in text


def test_readme_states_the_supported_range_from_colabs_stack_to_the_pinned_one():
    readme = (ROOT / "README.md").read_text()
    pins = dict(line.split("==") for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line)
    assert f"TensorFlow 2.19 to {pins['tensorflow'].rsplit('.', 1)[0]}" in readme
    assert f"Keras 3.10 to {pins['keras'].rsplit('.', 1)[0]}" in readme
    assert "tools/colab_stack_check.sh" in readme
