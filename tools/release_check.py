"""Refuses to publish a book whose Colab links would install a different version of vae_helpers.

    python tools/release_check.py v0.1.0     # the tag being published (the Pages workflow passes it)

Passes when the tag is v<vae_helpers.__version__>, `repository.branch` in _config.yml names its
notebook edition (colab-v<version>, which the Pages workflow publishes), every notebook's badge opens
that edition and every install line installs the tag. Otherwise it says what to change and exits 1.
"""

import pathlib
import sys

import yaml

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from sync_colab_links import ROOT, LinkError, edition_tag, expected_links, release_tag  # noqa: E402


def problems(tag):
    """What stops `tag` from being published, one line each (empty when nothing does)."""
    found = []
    try:
        version_tag = release_tag()
        expected_links("any.ipynb", version_tag)  # the repository URL is one Colab can open
    except LinkError as error:
        return [str(error)]
    if tag != version_tag:
        found.append(f"the tag is {tag!r} but vae_helpers.__version__ makes the release {version_tag!r}: "
                     f"publish from tag {version_tag}, or set __version__ in vae_helpers/__init__.py "
                     f"to {tag.removeprefix('v')!r} and run python tools/sync_colab_links.py")
    branch = str(yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["branch"])
    if branch != edition_tag(version_tag):
        found.append(f"_config.yml: repository.branch is {branch!r}, not {edition_tag(version_tag)!r}: "
                     "run python tools/sync_colab_links.py")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        badge, requirement = expected_links(path.name, version_tag)
        text = path.read_text()
        if badge not in text or f'\\"{requirement}\\"' not in text:
            found.append(f"{path.name}: its Colab badge or install line does not name {version_tag}: "
                         "run python tools/sync_colab_links.py")
    return found


def main(argv):
    if len(argv) != 1:
        sys.exit(__doc__)
    found = problems(argv[0])
    for line in found:
        print(f"release check: {line}", file=sys.stderr)
    if not found:
        print(f"release check: {argv[0]} is the version the notebooks install; ready to publish")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
