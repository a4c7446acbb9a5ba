"""The licences and the citation: the code's licence is the one pyproject declares, the text's is
stated in the book's footer, and CITATION.cff names this release and this repository."""

import pathlib
import tomllib

import yaml

import vae_helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "tools"))
import sync_colab_links  # noqa: E402


def _config():
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def test_the_code_licence_is_the_one_pyproject_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text()
    assert declared == "Apache-2.0"
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text, "LICENSE is cut short: copy the whole licence"


def test_the_footer_states_both_licences():
    footer = _config()["html"]["extra_footer"]
    assert "CC BY 4.0" in footer and "creativecommons.org/licenses/by/4.0" in footer
    assert "Apache-2.0" in footer
    content = (ROOT / "LICENSE-CONTENT.md").read_text()
    assert "CC BY 4.0" in content and "legalcode" in content


def test_the_citation_names_this_release_and_repository():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert citation["title"] == _config()["title"]
    assert citation["version"] == vae_helpers.__version__, (
        f"CITATION.cff says version {citation['version']}; set it to {vae_helpers.__version__}")
    assert citation["repository-code"] == sync_colab_links.repository_url()
    assert citation["url"] == sync_colab_links.pages_site()
    assert citation["license"] == ["Apache-2.0", "CC-BY-4.0"]
    assert citation["authors"], "CITATION.cff names no author"
