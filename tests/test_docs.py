"""The documentation site builds in strict mode: a broken reference or an undocumented name
in a mkdocstrings block fails it, and the generated pages hold what the code holds."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_docs_site_builds_strictly_and_is_generated_from_the_code(tmp_path):
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert r.returncode == 0, r.stderr[-3000:]
    cli = (site / "cli" / "index.html").read_text()
    for verb in ("caption", "transcribe", "translate-po", "annotate-video", "build-data"):
        assert f"pipelines {verb}" in cli, verb  # every verb's --help, from the parser
    assert "emoji_events_bigru" in (site / "tasks" / "index.html").read_text()  # pipelines list
    api = (site / "pipelines" / "index.html").read_text()
    assert "Caption one image or a list of images" in api  # docstrings, not copies
    assert not (site / "hooks.py").exists()
