"""A resource template's attempt: create a Workflow from a WorkflowTemplate, here a child run on this machine.

The child runs the template the manifest's ``workflowTemplateRef`` names, with the manifest's
arguments, in its own run folder (the parent's node lists it in ``children``); its name and phase
are the ``jsonPath`` outputs ``{.metadata.name}`` and ``{.status.phase}``, and the resource's
``successCondition`` and ``failureCondition`` read its ``status.phase``, as Argo's resource pod does.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import yaml

from steps.errors import BadInput
from workflows.argo.expressions import ExpressionError
from workflows.local import stop as local_stop
from workflows.local.preflight import condition_holds, condition_text
from workflows.local.record import Attempt, Node, Phase, ended
from workflows.local.substitution import substitute

if TYPE_CHECKING:
    from workflows.local.executor import LocalRun

# Argo's resource pod exits 64 when the resource meets its failureCondition (argoexec's main), with the
# message "failure condition '<requirement>' evaluated true" (executor/resource.go): retry expressions see both.
RESOURCE_FAILED_EXIT = 64


def child_workflow(
    run: LocalRun, node: Node, template: dict, scope: dict[str, str], attempt: Attempt
) -> tuple[Attempt, dict[str, str]]:
    """Create a Workflow from a WorkflowTemplate: here, run that template locally as a child run."""
    resource = template["resource"]
    try:
        manifest = yaml.safe_load(substitute(resource["manifest"], scope))
    except ExpressionError as exc:
        return ended(attempt, Phase.Error, None, str(exc))
    reference = manifest["spec"]["workflowTemplateRef"]["name"]
    if run.load_template is None:
        return ended(attempt, Phase.Error, None, f"no way to find WorkflowTemplate '{reference}' locally")
    child_doc = run.load_template(reference)
    child_doc["metadata"] = {
        **child_doc.get("metadata", {}),
        "generateName": manifest["metadata"].get("generateName", f"{reference}-"),
    }
    child_doc["metadata"].pop("name", None)
    arguments = {
        p["name"]: str(p.get("value", ""))
        for p in (manifest["spec"].get("arguments") or {}).get("parameters") or []
    }
    started = time.monotonic()
    try:
        child = type(run)(
            child_doc,
            arguments,
            run.runs_root,
            run.parallelism,
            locks_dir=str(run.locks_dir),
            load_template=run.load_template,
            warm_start=run.warm_start,
        )
    except BadInput as exc:
        return ended(attempt, Phase.Failed, None, f"could not create the child workflow: {exc}")
    with run.lock:
        node.children.append(child.record.name)
        run.child_runs.append(child)
        run.save()
        stop_child = run.stopped_by_user and not run.in_exit_handler
    if stop_child:  # outside this run's lock: request_stop takes the child's
        local_stop.request_stop(child)
    record = child.run()
    attempt.duration_seconds = round(time.monotonic() - started, 3)
    if run.stopped_by_user and record.phase != Phase.Succeeded:
        return ended(attempt, Phase.Failed, None, local_stop.NODE_STOPPED)
    outputs = {}
    for parameter in (template.get("outputs") or {}).get("parameters") or []:
        path = (parameter.get("valueFrom") or {}).get("jsonPath", "")
        outputs[parameter["name"]] = {
            "{.metadata.name}": record.name,
            "{.status.phase}": record.phase,
        }.get(path, "")
    if "failureCondition" in resource and condition_holds(resource["failureCondition"], record.phase):
        # As Argo's resource pod reports it; it saves no outputs then. The child is in node.children.
        condition = condition_text(resource["failureCondition"])
        return ended(
            attempt,
            Phase.Failed,
            RESOURCE_FAILED_EXIT,
            f"Error (exit code {RESOURCE_FAILED_EXIT}): failure condition '{condition}' evaluated true",
        )
    if "successCondition" in resource and not condition_holds(resource["successCondition"], record.phase):
        return ended(attempt, Phase.Failed, None, f"child workflow {record.name} {record.phase}", outputs)
    return ended(attempt, Phase.Succeeded, 0, "", outputs)
