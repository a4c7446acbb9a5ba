"""Points every Colab link at the book's release, and the package at the book's site: each notebook's badge and the book's launch
buttons (`repository.branch` in _config.yml) open the notebook edition of release v<version>
(published by the Pages workflow under the tag colab-v<version>), and each install line installs
vae_helpers from the release tag v<version>, from `vae_helpers.__version__`; `SITE_URL` in
vae_helpers/published.py (where published models are fetched) names the repository's Pages site.

Run after changing the version or the repository URL (a fork, a course copy):
    python tools/sync_colab_links.py

Everything is checked before anything is written: a version or URL that would make a broken link
is refused with the fix, and no file is touched. Only the book's own links change: the badge in a
chapter's first cell and the install line in its setup cell (a link in the prose to another
project's Colab notebook stays as it is).
"""

import ast
import json
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
BADGE = re.compile(r"(\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\()"
                   r"https://colab\.research\.google\.com/github/[^)\s\"]+(\))")
INSTALL = re.compile(r"vae_helpers @ git\+[^\"\\]+")
VERSION = re.compile(r"\d+(\.\d+){1,2}((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?")
REPOSITORY = re.compile(r"https://github\.com/[A-Za-z0-9-]+/[A-Za-z0-9._-]+")


class LinkError(ValueError):
    """A version or repository URL that would write broken links."""


def release_tag(root=ROOT):
    """'v' + vae_helpers.__version__, read without importing the package (and TensorFlow)."""
    tree = ast.parse((root / "vae_helpers" / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__version__"]:
            version = ast.literal_eval(node.value)
            if not isinstance(version, str) or not VERSION.fullmatch(version):
                raise LinkError(f"vae_helpers/__init__.py: __version__ = {version!r} is not a release "
                                "version such as '0.2.0' (digits and dots, no spaces): correct it.")
            return f"v{version}"
    raise LinkError("vae_helpers/__init__.py has no __version__ = '...' line")


def edition_tag(tag=None):
    """The tag under which the Pages workflow publishes release `tag`'s notebook edition."""
    return f"colab-{tag or release_tag()}"


def repository_url(root=ROOT):
    """`repository.url` of _config.yml, checked to be a GitHub repository's own address."""
    url = str(yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"])
    if not REPOSITORY.fullmatch(url) or url.endswith(".git"):
        raise LinkError(f"_config.yml: repository.url is {url!r}; Colab opens notebooks of GitHub "
                        "repositories only, so it must be https://github.com/OWNER/NAME (no .git, no "
                        "/tree/... and no trailing slash).")
    return url


def pages_site(root=ROOT):
    """The published book, GitHub Pages of `repository.url`: https://OWNER.github.io/NAME/."""
    owner, name = repository_url(root).removeprefix("https://github.com/").split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def expected_links(notebook_name, tag=None, folder="notebooks", root=ROOT):
    """(badge target, pip requirement) that chapter `notebook_name` carries for release `tag`; the
    badge opens the chapter in `folder` of the notebook edition ("notebooks" or "student")."""
    tag = tag or release_tag(root)
    url = repository_url(root)
    owner_and_name = url.removeprefix("https://github.com/")
    badge = (f"https://colab.research.google.com/github/{owner_and_name}/blob/{edition_tag(tag)}/"
             f"{folder}/{notebook_name}")
    return badge, f"vae_helpers @ git+{url}@{tag}"


def synced_texts(root=ROOT):
    """{path: new text} for _config.yml and every chapter; raises LinkError before any is written."""
    tag = release_tag(root)
    config = root / "_config.yml"
    # A line edit, not a YAML round trip, so the file's comments survive.
    text, count = re.subn(r"(?m)^(repository:\n(?:  .*\n)*?  branch: ).*$", rf"\g<1>{edition_tag(tag)}",
                          config.read_text())
    if count != 1:
        raise LinkError("_config.yml: no 'branch:' line under 'repository:'")
    texts = {config: text}
    # The package fetches published models from the site (it cannot read _config.yml in Colab).
    published = root / "vae_helpers" / "published.py"
    if published.exists():
        text, count = re.subn(r'(?m)^SITE_URL = "[^"]*"$', f'SITE_URL = "{pages_site(root)}"', published.read_text())
        if count != 1:
            raise LinkError("vae_helpers/published.py: no 'SITE_URL = \"...\"' line to point at the site")
        texts[published] = text
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        badge, requirement = expected_links(path.name, tag, root=root)
        try:
            notebook = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise LinkError(f"{path.name} is not valid notebook JSON ({error}): repair it first.") from None
        cells = notebook.get("cells", [])
        if len(cells) < 2:
            raise LinkError(f"{path.name}: expected a title cell with the badge and a setup cell")
        first, setup = ("".join(cells[i]["source"]) for i in (0, 1))
        first, badges = BADGE.subn(rf"\g<1>{badge}\g<2>", first)
        setup, installs = INSTALL.subn(requirement, setup)
        if badges != 1 or installs != 1:
            raise LinkError(f"{path.name}: found {badges} Colab badge(s) in its first cell and {installs} "
                            "install line(s) in its setup cell; each must hold exactly one.")
        cells[0]["source"], cells[1]["source"] = first.splitlines(True), setup.splitlines(True)
        texts[path] = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
    return texts


def main(root=ROOT):
    try:
        texts = synced_texts(root)
    except LinkError as error:
        raise SystemExit(f"sync_colab_links: {error} Nothing was written.") from None
    for path, text in texts.items():
        if path.read_text() != text:
            path.write_text(text)
        print(f"{path.relative_to(root)}: links name {release_tag(root)}")


if __name__ == "__main__":
    main()
