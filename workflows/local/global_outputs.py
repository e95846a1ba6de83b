"""Output parameters with a ``globalName``: the workflow's outputs, as Argo's operator.go exports them.

``addOutputsToGlobalScope`` runs for each node's outputs once it completes (a pod's in ``podReconciliation``, a dag
or steps template's after ``getTemplateOutputsFromScope``); ``addParamToGlobalScope`` sets
``workflow.outputs.parameters.<globalName>`` in the global scope, where later tasks, steps and the exit handler
read it, and in ``status.outputs.parameters`` (here ``run.json``'s ``outputs``); a later value overwrites an
earlier one. ``setGlobalParameters`` reads them back from the status when a run goes on (``--resume``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workflows.local.record import Node, RunRecord

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

PREFIX = "workflow.outputs.parameters."


def export(run: LocalRun, node: Node) -> None:
    """The node's output parameters that its template gives a ``globalName``, into the run's scope and record."""
    declared = (run.templates.get(node.template, {}).get("outputs") or {}).get("parameters") or []
    for parameter in declared:
        name, value = parameter.get("globalName"), node.outputs.get(parameter.get("name"))
        if name and value is not None:
            run.record.outputs[name] = value
            run.scope[PREFIX + name] = value


def scope_of(record: RunRecord) -> dict[str, str]:
    """``{{workflow.outputs.parameters.X}}`` for each of the record's outputs."""
    return {PREFIX + name: value for name, value in record.outputs.items()}
