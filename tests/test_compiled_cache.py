"""mlops run compiles the project's workflows once per version of their sources and settings."""

from __future__ import annotations

import json
import os

import pytest

from workflows.cli import compiled
from workflows.cli.support import local_document
from workflows.settings import load_settings


def test_a_workflow_is_compiled_once_and_read_back_the_same(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / "store"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    settings = load_settings()
    first = compiled.compiled_document("training", settings, [])
    [kept] = (tmp_path / "cache" / "argo-mlops" / "compiled").iterdir()
    assert json.loads(kept.read_text()) == first == local_document("training", settings, [])
    kept.write_text(json.dumps({**first, "read": "back"}))  # what the next run executes is the kept one
    assert compiled.compiled_document("training", settings, [])["read"] == "back"
    assert compiled.is_pipeline("training") and not compiled.is_pipeline("no-such-workflow")


def test_another_storage_root_or_data_reuses_the_compilation_with_its_own_locations(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / "one"))
    compiled.compiled_document("training", load_settings(), [])
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / "two"))
    monkeypatch.setenv("MLOPS_DATA_URI", str(tmp_path / "data"))
    settings = load_settings()
    monkeypatch.setattr("workflows.cli.support.local_document", lambda *_: pytest.fail("compiled again"))
    again = compiled.compiled_document("training", settings, [])
    assert again == local_document("training", settings, [])  # as compiling with these settings gives
    assert len(list((tmp_path / "cache" / "argo-mlops" / "compiled").iterdir())) == 1


def test_only_the_newest_compilations_of_a_workflow_are_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = compiled.cache_folder()
    for n in range(compiled.KEPT_PER_WORKFLOW + 3):
        compiled.keep("training", f"{n:020d}", {"n": n})
        os.utime(folder / f"training-{n:020d}.json", (n, n))
    compiled.keep("training-drift", f"{0:020d}", {"other": True})  # another workflow's, kept
    names = sorted(p.name for p in folder.iterdir())
    newest = [f"training-{n:020d}.json" for n in range(3, compiled.KEPT_PER_WORKFLOW + 3)]
    assert names == sorted([*newest, f"training-drift-{0:020d}.json"])


def test_a_changed_setting_or_source_compiles_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MLOPS_STORAGE_ROOT", str(tmp_path / "store"))
    settings = load_settings()
    before = compiled.digest("training", settings)
    monkeypatch.setenv("MLOPS_MODEL_NAME", "another-model")
    assert compiled.digest("training", load_settings()) != before
    source = tmp_path / "template.py"
    source.write_text("A = 1\n")
    monkeypatch.setattr(compiled, "source_files", lambda: [source])
    monkeypatch.setattr(compiled, "ROOT", tmp_path)
    one = compiled.digest("training", settings)
    source.write_text("A = 2\n")
    assert compiled.digest("training", settings) != one
