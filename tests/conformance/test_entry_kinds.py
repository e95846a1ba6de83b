"""What the entry cases cannot state: the exit handler after a single-node entrypoint, the workflow's outputs in
run.json, ``spec.retryStrategy`` on the exit handler, and a stop ending a suspend node's wait at once."""

from __future__ import annotations

import json
import threading

from tests.conformance.case import local_manifest
from tests.conformance.entry_cases import GLOBAL_OUTPUT, HEADER, SAY
from workflows.local import stop as local_stop
from workflows.local.executor import LocalRun
from workflows.local.record import Phase

EXIT_HANDLER = f"""  - name: report
    container: {{{SAY}, args: [echo, "{{{{workflow.status}}}} {{{{workflow.outputs.parameters.my-global-param}}}}"]}}
"""


def local_run(tmp_path, text: str, on_change=None) -> LocalRun:
    return LocalRun(local_manifest(text), {}, str(tmp_path / "runs"), on_change=on_change)


def test_a_container_entrypoint_runs_the_exit_handler_with_its_outputs(tmp_path):
    """operator.go: the exit handler runs once the entrypoint's node is done, reading {{workflow.status}} and
    the global outputs (examples/global-outputs.yaml's onExit); run.json holds them as the workflow's outputs."""
    text = (
        HEADER
        + "  entrypoint: global-output\n  onExit: report\n  templates:\n"
        + GLOBAL_OUTPUT
        + EXIT_HANDLER
    )
    run = local_run(tmp_path, text)
    record = run.run()
    assert (record.phase, record.nodes["global-output"].phase) == (Phase.Succeeded, Phase.Succeeded)
    assert record.exit_handler.phase == Phase.Succeeded
    assert record.exit_handler.attempts[-1].command[-2:] == ["echo", "Succeeded hello world"]
    saved = json.loads((run.run_dir / "run.json").read_text())
    assert saved["outputs"] == {"my-global-param": "hello world"}


def test_a_failed_entrypoint_gives_the_workflow_its_message_and_the_workflow_retry_reaches_the_exit_handler(
    tmp_path,
):
    """operator.go: workflowMessage = node.Message; retryStrategy() gives the onExit template spec.retryStrategy."""
    text = (
        HEADER
        + f"""  entrypoint: main
  onExit: bye
  retryStrategy: {{limit: 1}}
  templates:
  - name: main
    container: {{{SAY}, args: [exit, "3"]}}
  - name: bye
    container: {{{SAY}, args: [exit, "1"]}}
"""
    )
    run = local_run(tmp_path, text)
    record = run.run()
    main = record.nodes["main"]
    assert (record.phase, main.phase, len(main.attempts)) == (Phase.Failed, Phase.Failed, 2)
    assert record.message == main.message and "3" in main.message
    assert (record.exit_handler.phase, len(record.exit_handler.attempts)) == (Phase.Failed, 2)


def test_a_stop_ends_a_suspend_node_at_once_and_the_exit_handler_still_runs(tmp_path):
    """operator.go failSuspendedAndPendingNodesAfterDeadlineOrShutdown: a stop fails the active suspend node
    ('Stopped with strategy ...'); the wait is on the run's stopping event, so an hour's suspend ends now."""
    waiting = threading.Event()

    def on_change(run: LocalRun) -> None:
        node = run.record.nodes.get("wait")
        if node is not None and node.phase == Phase.Running:
            waiting.set()

    text = HEADER + "  entrypoint: wait\n  onExit: report\n  templates:\n"
    text += "  - name: wait\n    suspend: {duration: 1h}\n" + GLOBAL_OUTPUT + EXIT_HANDLER
    run = local_run(tmp_path, text, on_change)
    worker = threading.Thread(target=lambda: (run.run(), waiting.set()))  # an early end wakes the test too
    worker.start()
    waiting.wait()
    assert run.record.nodes["wait"].phase == Phase.Running
    local_stop.request_stop(run)
    worker.join(120)
    assert not worker.is_alive()
    node = run.record.nodes["wait"]
    assert (node.phase, node.message) == (Phase.Failed, "Stopped with strategy 'Stop'")
    assert run.record.phase == Phase.Failed
    assert run.record.exit_handler.phase in (Phase.Succeeded, Phase.Error)  # it ran; its global is unset
