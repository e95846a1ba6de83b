"""Hera's examples/workflows/upstream/life_cycle_hooks_tmpl_level.py and life_cycle_hooks_wf_level.py (Argo's
examples/life-cycle-hooks-*.yaml) in one workflow: each step's ``running`` and ``success`` hooks
(``m.LifecycleHook`` with an ``expression`` over ``steps["step-1"].status`` / ``steps.step2.status``), the
workflow's ``running`` hook and its ``exit`` hook. Adapted: Argo's ``http`` template (not run locally) is a
container printing the status it was started for; the echo container is a script."""

# ruff: noqa: SIM117  (Hera's own style: a Steps context nested in the Workflow's)

from hera.workflows import Container, Steps, Workflow, script
from hera.workflows import models as m


@script()
def echo():
    print("it was heads")


with Workflow(
    generate_name="lifecycle-hook-",
    entrypoint="main",
    hooks={
        "exit": m.LifecycleHook(template="http"),
        "running": m.LifecycleHook(expression='workflow.status == "Running"', template="http"),
    },
) as w:
    http = Container(name="http", image="python:3.12", command=["python", "-c", "print('notified')"])
    with Steps(name="main"):
        echo(
            name="step-1",
            hooks={
                "running": m.LifecycleHook(expression='steps["step-1"].status == "Running"', template="http"),
                "success": m.LifecycleHook(
                    expression='steps["step-1"].status == "Succeeded"', template="http"
                ),
            },
        )
        echo(
            name="step2",
            hooks={
                "running": m.LifecycleHook(expression='steps.step2.status == "Running"', template="http"),
                "success": m.LifecycleHook(expression='steps.step2.status == "Succeeded"', template="http"),
            },
        )
