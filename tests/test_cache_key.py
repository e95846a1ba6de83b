"""The step cache's key, part by part: the code and library classes of the mutation suite (on a copy of
``steps/``, since a test must not edit the checkout), the devices of train, the champion of evaluate."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from steps import cache, cache_key
from steps.evaluate import EvaluateParams
from steps.features import FeaturesParams
from steps.ingest import IngestParams
from steps.settings import load_settings
from steps.train import TrainParams


@pytest.fixture
def code(tmp_path, monkeypatch) -> Path:
    """A copy of ``steps/`` the key reads its code part from."""
    copy = tmp_path / "steps"
    shutil.copytree(cache_key.steps_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(cache_key, "steps_dir", lambda: copy)
    return copy


def key(step: str, params, tmp_path: Path) -> str:
    return cache_key.key_of(cache.key_parts(step, params, load_settings()))


def edit(path: Path, line: str) -> None:
    path.write_text(path.read_text() + f"\n{line}\n")


@pytest.fixture
def ingest_params(sample_data, tmp_path) -> IngestParams:
    return IngestParams(run_dir=str(tmp_path / "run"), data_uri=str(sample_data))


# (change class, file of the copy to edit, expected: the key changes)
CODE_CHANGES = [
    ("the step's module", "ingest.py", True),
    ("a helper it imports", "storage.py", True),
    ("a helper of a helper (contract -> stopping)", "stopping.py", True),
    ("a module it does not import", "deploy.py", False),
]


@pytest.mark.parametrize(("change", "file", "changes"), CODE_CHANGES, ids=[c[0] for c in CODE_CHANGES])
def test_code_change_class(code, ingest_params, tmp_path, change, file, changes):
    before = key("ingest", ingest_params, tmp_path)
    edit(code / file, "# a comment is a change of the source")
    assert (key("ingest", ingest_params, tmp_path) != before) is changes, change


def test_a_helper_only_features_imports_changes_features_not_ingest(code, ingest_params, tmp_path):
    features = FeaturesParams(run_dir=ingest_params.run_dir)
    before = key("features", features, tmp_path), key("ingest", ingest_params, tmp_path)
    edit(code / "preprocessing.py", "CHANGED = True")
    after = key("features", features, tmp_path), key("ingest", ingest_params, tmp_path)
    assert after[0] != before[0] and after[1] == before[1]


def test_a_library_version_changes_the_key_of_the_steps_importing_it(ingest_params, tmp_path, monkeypatch):
    before = cache.key_parts("ingest", ingest_params, load_settings())
    assert {"numpy", "pandas", "pydantic", "boto3"} <= before["libraries"].keys()
    real = cache_key.library_version
    monkeypatch.setattr(cache_key, "library_version", lambda n: "9.9.9" if n == "pandas" else real(n))
    after = cache.key_parts("ingest", ingest_params, load_settings())
    assert cache_key.differences(after, before) == ["libraries: pandas"]


def test_the_code_part_walks_imports_into_the_project_only():
    code, libraries = cache_key.code_parts("steps.train")
    assert {
        "steps.train",
        "steps.trainer",
        "steps.features",
        "steps.contract",
        "steps.storage",
    } <= code.keys()
    assert "steps.deploy" not in code and "torch" in libraries and "steps" not in libraries
    assert not {"json", "os", "__future__"} & libraries.keys()


def test_train_keys_on_its_device_and_seed(tmp_path, monkeypatch):
    run_dir = str(tmp_path / "run")
    cpu, cuda = TrainParams(run_dir=run_dir, device="cpu"), TrainParams(run_dir=run_dir, device="cuda")
    assert key("train", cpu, tmp_path) != key("train", cuda, tmp_path)
    assert key("train", cpu, tmp_path) != key(
        "train", TrainParams(run_dir=run_dir, device="cpu", seed=7), tmp_path
    )
    monkeypatch.setattr(cache, "visible_gpu", lambda: False)  # auto resolves to the device it will train on
    assert key("train", TrainParams(run_dir=run_dir), tmp_path) == key("train", cpu, tmp_path)


def test_evaluate_keys_on_the_champion_version(tmp_path, monkeypatch):
    import steps.evaluate
    import steps.tracking

    class Version:
        def __init__(self, version: str) -> None:
            self.version = version

    champion = {"now": Version("3")}
    monkeypatch.setattr(steps.tracking, "connect", lambda settings: None)
    monkeypatch.setattr(steps.evaluate, "find_champion", lambda client, name: champion["now"])
    params = EvaluateParams(run_dir=str(tmp_path / "run"), run_id="abc", model_uri="runs:/abc/model")
    before = key("evaluate", params, tmp_path)
    assert key("evaluate", params, tmp_path) == before
    champion["now"] = Version("4")
    assert key("evaluate", params, tmp_path) != before


def test_run_dir_and_the_cache_flag_are_no_part_of_the_key(ingest_params, tmp_path):
    other = ingest_params.model_copy(update={"run_dir": str(tmp_path / "elsewhere"), "cache": False})
    assert key("ingest", other, tmp_path) == key("ingest", ingest_params, tmp_path)
    assert "run_dir" not in cache.key_parts("ingest", ingest_params, load_settings())["params"]


def test_differences_name_the_parts_and_the_names_inside_them():
    before = {"step": "ingest", "inputs": {"a": "1", "b": "2"}, "image": ""}
    now = {"step": "ingest", "inputs": {"a": "1", "b": "3", "c": "4"}, "image": "sha256:x"}
    assert cache_key.differences(now, before) == ["image: '' -> 'sha256:x'", "inputs: b, c"]


def test_imports_are_found_at_any_depth_and_across_lines():
    source = b"import a\nfrom b.c import (\n    d,\n    e,\n)\ndef f():\n    import x, \\\n        y\n    from steps import storage\n"
    own, libraries = cache_key.imports_of(source)
    assert own == {"steps.storage"} and libraries == {"a", "b", "x", "y"}


def test_a_folder_is_hashed_once_and_any_change_is_seen_again(tmp_path, monkeypatch):
    (tmp_path / "a.bin").write_bytes(b"x" * 1000)
    (tmp_path / "b.bin").write_bytes(b"y" * 1000)
    time.sleep(2 * cache_key.RACY_NS / 1e9)  # older than a file time's tick: the memo may keep them
    hashed = []
    real = cache_key.file_digest
    monkeypatch.setattr(cache_key, "file_digest", lambda path: hashed.append(Path(path).name) or real(path))
    first = cache_key.folder_content(str(tmp_path))
    assert sorted(hashed) == ["a.bin", "b.bin"]
    assert cache_key.folder_content(str(tmp_path)) == first and len(hashed) == 2  # the memo answered
    # rewritten in place, same size, mtime put back: ctime still moves, so it is hashed again
    stat = (tmp_path / "a.bin").stat()
    with open(tmp_path / "a.bin", "r+b") as handle:
        handle.write(b"z")
    os.utime(tmp_path / "a.bin", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = cache_key.folder_content(str(tmp_path))
    assert hashed[2:] == ["a.bin"] and again["a.bin"] != first["a.bin"] and again["b.bin"] == first["b.bin"]
    assert cache_key.DIGEST_MEMO not in again  # the memo is no part of the folder's content


def test_a_memo_that_is_not_ours_is_only_a_cost(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"x")
    (tmp_path / cache_key.DIGEST_MEMO).write_text('{"a.bin": [[1, 2, 3, 4], "forged"], "b": 7}')
    assert cache_key.folder_content(str(tmp_path)) == {
        "a.bin": cache_key.file_digest(str(tmp_path / "a.bin"))
    }
    (tmp_path / cache_key.DIGEST_MEMO).write_text("not json")
    assert cache_key.folder_content(str(tmp_path))["a.bin"] != "forged"
