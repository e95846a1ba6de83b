"""mlops compile and mlops lint build Hera's models with the cyclic collector paused, and leave what
they built frozen for the rest of their short process (workflows.cli.collector)."""

from __future__ import annotations

import gc

import pytest
from typer.testing import CliRunner

from workflows.cli.app import app
from workflows.cli.collector import collector_paused


@pytest.fixture
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    gc.enable() if was else gc.disable()


def test_no_cycle_is_collected_inside_and_what_was_made_is_frozen_after(collector_on):
    collections = []

    def count(phase, info):
        if phase == "start":
            collections.append(info["generation"])

    frozen = gc.get_freeze_count()
    gc.callbacks.append(count)
    try:
        with collector_paused():
            assert not gc.isenabled()
            made = [[i] for i in range(50_000)]  # enough containers for several collections
            cycle: list = []
            cycle.append(cycle)
    finally:
        gc.callbacks.remove(count)
    assert collections == []
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen + len(made)


def test_a_paused_collector_is_left_paused(collector_on):
    gc.disable()
    frozen = gc.get_freeze_count()
    with collector_paused():
        pass
    assert not gc.isenabled()
    assert gc.get_freeze_count() == frozen


@pytest.mark.parametrize(
    ("command", "where"),
    [
        (["compile", "--out", "OUT"], "workflows.pipelines.compile.compile_manifests"),
        (["lint", "OUT"], "workflows.argo.lint.lint_paths"),
    ],
)
def test_compile_and_lint_do_their_work_with_the_collector_paused(
    collector_on, monkeypatch, tmp_path, command, where
):
    module, name = where.rsplit(".", 1)
    seen = []
    monkeypatch.setattr(f"{module}.{name}", lambda *args: seen.append(gc.isenabled()) or [])
    result = CliRunner().invoke(app, [str(tmp_path) if a == "OUT" else a for a in command])
    assert result.exit_code == 0, result.output
    assert seen == [False]
    assert gc.isenabled()
