"""Rewrites every notebook's Colab badge and install line from `repository` in _config.yml.

Run after changing the repository URL or branch (a fork, a course copy):
    python tools/sync_colab_links.py
"""

import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def expected_links(notebook_name):
    """The badge target and the pip requirement that `notebook_name` must carry."""
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    url, branch = repository["url"].rstrip("/"), repository["branch"]
    owner_and_name = url.split("github.com/", 1)[1]
    badge = f"https://colab.research.google.com/github/{owner_and_name}/blob/{branch}/notebooks/{notebook_name}"
    return badge, f"vae_helpers @ git+{url}@{branch}"


def main():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        badge, requirement = expected_links(path.name)
        text = path.read_text()
        text = re.sub(r"https://colab\.research\.google\.com/github/[^)\s\"]+", badge, text)
        text = re.sub(r"vae_helpers @ git\+[^\"\\]+", requirement, text)
        json.loads(text)  # still a valid notebook
        path.write_text(text)
        print(f"{path.name}: {badge}")


if __name__ == "__main__":
    main()
