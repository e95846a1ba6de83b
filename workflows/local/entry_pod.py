"""A container, script, resource or suspend template as the entrypoint, as Argo's operator.go runs it.

``operate`` executes the entrypoint as one node named after the workflow (``executeTemplate(wf.Name, ...)``) and
the workflow takes that node's phase and message (``workflowStatus`` from ``node.Phase``, ``workflowMessage =
node.Message``); the exit handler runs after it as after any entrypoint. The record names the node after the
entrypoint template (its tasks' names leave out the workflow's name too). The node runs as a task does
(``LocalRun.execute``): its inputs from ``spec.arguments``, its retries (its own ``retryStrategy`` or the
workflow's), its outputs; on ``--resume`` a Succeeded node is kept.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workflows.local.record import Node, Phase

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

INPUTS = "inputs.parameters."


def run_entry(run: LocalRun, template: dict[str, Any]) -> str:
    """Run the entrypoint's single node; the workflow's phase (its node's), the record's message on failure."""
    name = template["name"]
    kept = run.record.nodes.get(name)
    if kept is not None and kept.phase == Phase.Succeeded:
        kept.reused = True
        return Phase.Succeeded
    with run.lock:
        node = run.record.nodes[name] = Node(name=name, template=name, phase=Phase.Running)
    # operator.go passes spec.arguments as the entrypoint's arguments; entry_inputs already resolved them
    given = [{"name": key[len(INPUTS) :], "value": value} for key, value in run.entry_inputs.items()]
    run.execute({"name": name, "template": name, "arguments": {"parameters": given}})
    return run.record.entry_ended(node.phase, node.message)
