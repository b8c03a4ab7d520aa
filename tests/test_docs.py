"""The documentation site builds in strict mode: a broken reference or an undocumented name
in a mkdocstrings block fails it, and the generated pages hold what the code holds."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_docs_site_builds_strictly_and_is_generated_from_the_code(tmp_path, monkeypatch):
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    # in this process (what `mkdocs build --strict` runs): the hooks list the pipelines by
    # importing every task, which a fresh interpreter pays with a TensorFlow import
    site = tmp_path / "site"
    monkeypatch.chdir(ROOT)
    build(load_config(os.path.join(ROOT, "mkdocs.yml"), strict=True, site_dir=str(site)))
    cli = (site / "cli" / "index.html").read_text()
    for verb in ("caption", "transcribe", "translate-po", "annotate-video", "build-data"):
        assert f"pipelines {verb}" in cli, verb  # every verb's --help, from the parser
    assert "emoji_events_bigru" in (site / "tasks" / "index.html").read_text()  # pipelines list
    api = (site / "pipelines" / "index.html").read_text()
    assert "Caption one image or a list of images" in api  # docstrings, not copies
    assert not (site / "hooks.py").exists()
