"""What `mlops run` prints: plain lines when output is not a terminal, the summary table, a failed
step's error lines. Real runs of tiny manifests through the executor, printed to a file."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from tests.local.test_local_executor import container, counter, workflow
from workflows.local.executor import LocalRun
from workflows.local.progress import Progress, display_message, failure_report, table


def run_printing(tmp_path: Path, doc: dict, width: int = 80) -> tuple[LocalRun, str]:
    out = io.StringIO()
    console = Console(file=out, width=width)  # a file: not a terminal, rich's default 80 columns
    with Progress(console) as progress:
        local = LocalRun(
            doc, {}, str(tmp_path / "runs"), on_change=progress, locks_dir=str(tmp_path / "locks")
        )
        local.run()
    console.print(table(local.record))
    return local, out.getvalue()


def test_each_task_says_running_once_and_each_retry_says_why(tmp_path):
    doc = workflow(
        [{"name": "a", "template": "a"}, {"name": "b", "template": "ok", "depends": "a"}],
        [
            container("a", counter(tmp_path, 2), retry={"limit": 2, "retryPolicy": "Always"}),
            container("ok", "pass"),
        ],
    )
    _, shown = run_printing(tmp_path, doc)
    lines = [line for line in shown.splitlines() if line.startswith("  ")]
    assert lines == [
        "  a: Running",
        "  a: Running attempt 2 (attempt 1: Error (exit code 1))",
        "  a: Succeeded",
        "  b: Running",
        "  b: Succeeded",
    ]


def test_a_false_when_reads_without_nested_quotes(tmp_path):
    tasks = [
        {"name": "decide", "template": "decide"},
        {
            "name": "promote",
            "template": "ok",
            "depends": "decide",
            "when": "'{{tasks.decide.outputs.parameters.decision}}' == 'promote'",
        },
    ]
    decide = container(
        "decide",
        "import os,pathlib; pathlib.Path(os.environ['OUT'], 'decision').write_text('reject')",
        outputs=("decision",),
    )
    local, shown = run_printing(tmp_path, workflow(tasks, [decide, container("ok", "pass")]), width=120)
    # run.json keeps Argo's message word for word; what is shown reads as the condition.
    assert local.record.nodes["promote"].message == "when ''reject' == 'promote'' evaluated false"
    assert "  promote: Skipped - when 'reject' == 'promote' is false" in shown
    assert "''" not in shown
    assert display_message("when 'true' evaluated false") == "when true is false"


def test_long_names_are_not_cut_at_80_columns(tmp_path):
    name = "synchronise-features-with-the-registry"
    doc = workflow([{"name": name, "template": "ok"}], [container("ok", "pass"), container("notify", "pass")])
    doc["spec"]["onExit"] = "notify"
    _, shown = run_printing(tmp_path, doc, width=80)
    table_lines = shown[shown.index("┏") :].splitlines()
    assert any(f"│ {name} │" in line for line in table_lines), shown
    assert any("│ onExit (notify)" in line for line in table_lines), shown
    assert "…" not in shown


def test_a_failed_run_reports_the_error_lines_and_the_log(tmp_path):
    code = (
        "import sys; print('loading'); print('prep: error: column x: missing', file=sys.stderr); sys.exit(65)"
    )
    doc = workflow([{"name": "prep", "template": "prep"}], [container("prep", code)])
    local, _ = run_printing(tmp_path, doc)
    log = local.record.nodes["prep"].attempts[-1].log
    assert list(failure_report(local.record, tmp_path / "runs")) == [
        "prep failed: Error (exit code 65)",
        "  prep: error: column x: missing",
        f"  log: {log}",
    ]
