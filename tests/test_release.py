"""The release check: a book is published only from the tag that its Colab links install."""

import pathlib
import re
import shutil
import subprocess
import sys

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
    assert yaml.safe_load(config_text)["repository"]["branch"] == "v7.1.0"
    # The config's comments survive the rewrite: only the branch line changed.
    original = (ROOT / "_config.yml").read_text().splitlines()
    changed = [(a, b) for a, b in zip(original, config_text.splitlines()) if a != b]
    assert len(original) == len(config_text.splitlines()) and changed == [
        (f"  branch: v{vae_helpers.__version__}", "  branch: v7.1.0")]
    for name in chapters:
        text = (tmp_path / "notebooks" / name).read_text()
        assert "@v7.1.0" in text and f"blob/v7.1.0/notebooks/{name}" in text
        assert f"v{vae_helpers.__version__}" not in text
