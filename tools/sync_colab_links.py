"""Points every Colab link at the book's release: `repository.branch` in _config.yml, each notebook's
badge and its install line all name the tag v<version>, from `vae_helpers.__version__`.

Run after changing the version or the repository URL (a fork, a course copy):
    python tools/sync_colab_links.py
"""

import ast
import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def release_tag():
    """'v' + vae_helpers.__version__, read without importing the package (and TensorFlow)."""
    tree = ast.parse((ROOT / "vae_helpers" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__version__"]:
            return f"v{ast.literal_eval(node.value)}"
    raise RuntimeError("vae_helpers/__init__.py has no __version__ = '...' line")


def expected_links(notebook_name, tag=None):
    """The badge target and the pip requirement that `notebook_name` must carry for release `tag`."""
    tag = tag or release_tag()
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    owner_and_name = url.split("github.com/", 1)[1]
    badge = f"https://colab.research.google.com/github/{owner_and_name}/blob/{tag}/notebooks/{notebook_name}"
    return badge, f"vae_helpers @ git+{url}@{tag}"


def main():
    tag = release_tag()
    config = ROOT / "_config.yml"
    # A line edit, not a YAML round trip, so the file's comments survive.
    text, count = re.subn(r"(?m)^(repository:\n(?:  .*\n)*?  branch: ).*$", rf"\g<1>{tag}", config.read_text())
    if count != 1:
        raise RuntimeError("_config.yml: no 'branch:' line under 'repository:'")
    config.write_text(text)
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        badge, requirement = expected_links(path.name, tag)
        text = path.read_text()
        text = re.sub(r"https://colab\.research\.google\.com/github/[^)\s\"]+", badge, text)
        text = re.sub(r"vae_helpers @ git\+[^\"\\]+", requirement, text)
        json.loads(text)  # still a valid notebook
        path.write_text(text)
        print(f"{path.name}: {badge}")


if __name__ == "__main__":
    main()
