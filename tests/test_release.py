"""The release check: a book is published only from the tag that its Colab links install."""

import json
import pathlib
import re
import shutil
import subprocess
import sys

import pytest
import yaml

import vae_helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _check(root, tag):
    return subprocess.run([sys.executable, str(root / "tools" / "release_check.py"), tag],
                          capture_output=True, text=True)


def test_this_checkout_is_ready_to_publish_its_version():
    result = _check(ROOT, f"v{vae_helpers.__version__}")
    assert result.returncode == 0, result.stderr
    assert "ready to publish" in result.stdout


def test_another_tag_is_refused_with_the_fix():
    result = _check(ROOT, "v99.0.0")
    assert result.returncode == 1
    assert f"publish from tag v{vae_helpers.__version__}" in result.stderr
    assert "set __version__ in vae_helpers/__init__.py to '99.0.0'" in result.stderr


def test_a_version_bump_is_refused_until_the_links_are_synced(tmp_path):
    # A copy of what the two tools read, so the real checkout is never rewritten.
    for name in ("tools", "notebooks"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("checkpoints", "*.pyc"))
    (tmp_path / "vae_helpers").mkdir()
    init = (ROOT / "vae_helpers" / "__init__.py").read_text()
    bumped = re.sub(r'__version__ = "[^"]+"', '__version__ = "7.1.0"', init)
    assert bumped != init
    (tmp_path / "vae_helpers" / "__init__.py").write_text(bumped)
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    chapters = sorted(p.name for p in (tmp_path / "notebooks").glob("*.ipynb"))

    stale = _check(tmp_path, "v7.1.0")
    assert stale.returncode == 1
    assert "repository.branch is" in stale.stderr
    assert all(f"{name}: its Colab badge or install line does not name v7.1.0" in stale.stderr for name in chapters)

    subprocess.run([sys.executable, str(tmp_path / "tools" / "sync_colab_links.py")], check=True,
                   capture_output=True)
    synced = _check(tmp_path, "v7.1.0")
    assert synced.returncode == 0, synced.stderr
    config_text = (tmp_path / "_config.yml").read_text()
    assert yaml.safe_load(config_text)["repository"]["branch"] == "colab-v7.1.0"
    # The config's comments survive the rewrite: only the branch line changed.
    original = (ROOT / "_config.yml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, config_text.splitlines()) if a != b]
    assert len(original) == len(config_text.splitlines()) and changed == [
        (f"  branch: colab-v{vae_helpers.__version__}", "  branch: colab-v7.1.0")]
    for name in chapters:
        text = (tmp_path / "notebooks" / name).read_text()
        assert "@v7.1.0" in text and f"blob/colab-v7.1.0/notebooks/{name}" in text
        assert f"v{vae_helpers.__version__}" not in text


def _copy(tmp_path):
    """A copy of what sync_colab_links.py reads and writes, so the real checkout is never touched."""
    for name in ("tools", "notebooks", "vae_helpers"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("checkpoints", "*.pyc"))
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    return {path: path.read_bytes() for path in [tmp_path / "_config.yml", *(tmp_path / "notebooks").glob("*.ipynb")]}


def _sync(root):
    return subprocess.run([sys.executable, str(root / "tools" / "sync_colab_links.py")], capture_output=True, text=True)


@pytest.mark.parametrize("url, version", [
    ("https://github.com/vae-book/vae-book", "0.2 beta"),           # a space would split the badge
    ("https://github.com/vae-book/vae-book.git", "0.2.0"),
    ("https://github.com/vae-book/vae-book/tree/main", "0.2.0"),
    ("https://gitlab.com/vae-book/vae-book", "0.2.0"),              # Colab opens GitHub only
])
def test_a_bad_version_or_url_is_refused_before_anything_is_written(tmp_path, url, version):
    before = _copy(tmp_path)
    config = tmp_path / "_config.yml"
    config.write_text(config.read_text().replace("https://github.com/vae-book/vae-book", url))
    init = tmp_path / "vae_helpers" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', init.read_text()))
    before[config] = config.read_bytes()
    result = _sync(tmp_path)
    assert result.returncode != 0 and "Nothing was written" in result.stderr
    assert ("OWNER/NAME" in result.stderr) != (version != "0.2.0")
    assert {path: path.read_bytes() for path in before} == before
    assert _check(tmp_path, f"v{version}").returncode == 1


def test_only_the_books_own_links_are_rewritten(tmp_path):
    _copy(tmp_path)
    chapter = tmp_path / "notebooks" / "05_training.ipynb"
    notebook = json.loads(chapter.read_text())
    other = "https://colab.research.google.com/github/tensorflow/docs/blob/master/cvae.ipynb"
    notebook["cells"][2]["source"].append(f"\nCompare [the TF tutorial]({other}).\n")
    chapter.write_text(json.dumps(notebook, indent=1) + "\n")
    init = tmp_path / "vae_helpers" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "0.3.0"', init.read_text()))
    assert _sync(tmp_path).returncode == 0
    text = chapter.read_text()
    assert other in text and "blob/colab-v0.3.0/notebooks/05_training.ipynb" in text


def test_a_malformed_chapter_is_named_and_nothing_is_written(tmp_path):
    before = _copy(tmp_path)
    (tmp_path / "notebooks" / "13_distributed.ipynb").write_text("{ not json")
    del before[tmp_path / "notebooks" / "13_distributed.ipynb"]
    init = tmp_path / "vae_helpers" / "__init__.py"
    init.write_text(re.sub(r'__version__ = "[^"]+"', '__version__ = "0.3.0"', init.read_text()))
    result = _sync(tmp_path)
    assert result.returncode != 0 and "13_distributed.ipynb is not valid notebook JSON" in result.stderr
    assert {path: path.read_bytes() for path in before} == before


def test_a_fork_points_the_package_at_its_own_site(tmp_path):
    _copy(tmp_path)
    config = tmp_path / "_config.yml"
    config.write_text(config.read_text().replace("https://github.com/vae-book/vae-book", "https://github.com/A-Course/vae-2027"))
    assert _sync(tmp_path).returncode == 0
    published = (tmp_path / "vae_helpers" / "published.py").read_text()
    assert 'SITE_URL = "https://a-course.github.io/vae-2027/"' in published
    text = (tmp_path / "notebooks" / "07_evaluation.ipynb").read_text()
    assert "github/A-Course/vae-2027/blob/colab-v" in text and "git+https://github.com/A-Course/vae-2027@v" in text
