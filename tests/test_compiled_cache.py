"""mlops run compiles the project's workflows once per version of their sources and settings."""

from __future__ import annotations

import json

from workflows.cli import compiled
from workflows.cli.support import local_document
from workflows.settings import load_settings


def test_a_workflow_is_compiled_once_and_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / "store"))
    settings = load_settings()
    first = compiled.compiled_document("training", settings, [])
    [kept] = (tmp_path / "store" / "compiled").iterdir()
    assert json.loads(kept.read_text()) == first == local_document("training", settings, [])
    kept.write_text(json.dumps({**first, "read": "back"}))  # what the next run executes is the kept one
    assert compiled.compiled_document("training", settings, [])["read"] == "back"
    assert compiled.is_pipeline("training") and not compiled.is_pipeline("no-such-workflow")


def test_a_changed_setting_or_source_compiles_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / "store"))
    settings = load_settings()
    before = compiled.digest("training", settings)
    monkeypatch.setenv("MLOPS_DATA_URI", str(tmp_path / "elsewhere"))
    assert compiled.digest("training", load_settings()) != before
    source = tmp_path / "template.py"
    source.write_text("A = 1\n")
    monkeypatch.setattr(compiled, "source_files", lambda: [source])
    monkeypatch.setattr(compiled, "ROOT", tmp_path)
    one = compiled.digest("training", settings)
    source.write_text("A = 2\n")
    assert compiled.digest("training", settings) != one
