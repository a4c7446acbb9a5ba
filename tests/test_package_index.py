"""The package's index (its docstring) and README's layout table name every module it has."""

import pathlib
import re

import vae_helpers

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _modules(folder=ROOT / "vae_helpers"):
    """The modules and subpackages of a package folder."""
    files = [p.stem for p in folder.glob("*.py") if p.stem != "__init__"]
    return sorted(files + [p.parent.name for p in folder.glob("*/__init__.py")])


def test_the_package_index_names_every_module_once():
    named = re.findall(r"^\* `(\w+)`:", vae_helpers.__doc__, flags=re.M)
    assert sorted(named) == _modules()


def test_readme_layout_names_every_module():
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("| `vae_helpers/` |"))
    missing = [name for name in _modules() if f"`{name}`" not in row]
    assert not missing, f"README's layout row for vae_helpers/ leaves out {missing}"


def test_the_models_package_names_every_module_it_holds():
    from vae_helpers import models

    modules = _modules(ROOT / "vae_helpers" / "models")
    assert modules == ["base", "completion", "conditional", "conv", "cures", "flows", "likelihood", "priors",
                       "semi_supervised"]
    missing = [name for name in modules if f"`{name}`" not in models.__doc__]
    assert not missing, f"vae_helpers/models/__init__.py's docstring leaves out {missing}"
