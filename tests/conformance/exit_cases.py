"""The workflow's exit handler as a dag or steps template, as Argo runs it.

operator.go ``operate``: once the entrypoint's node is fulfilled, ``workflow.status`` and ``workflow.failures`` are
set and ``spec.onExit`` runs as node ``<wf>.onExit`` (common.GenerateOnExitNodeName); a workflow that had
Succeeded takes a failed or errored exit node's phase. Its children are named from that node (dag.go
``taskNodeName``: ``<wf>.onExit.<task>``; steps.go: ``<wf>.onExit[i].<step>``), kept in the record without the
workflow's name as every node is. ``workflow.duration`` is set on each pass, ``fmt.Sprintf("%f", ...)`` of the
seconds since the workflow started. The handler's phase is its template's: a steps node fails with a failed or
errored group (steps.go ``executeSteps``), a DAG's from its leaves (dag.go ``assessDAGPhase``).
"""

from __future__ import annotations

from textwrap import dedent

from tests.conformance.case import Case
from tests.conformance.snippets import dag

# Argo's examples/exit-handlers.yaml, whole: the entrypoint is its one template, ``intentional-fail``.
EXIT_HANDLERS = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata: {generateName: exit-handlers-}
spec:
  entrypoint: intentional-fail
  onExit: exit-handler
  templates:
  - name: intentional-fail
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["echo intentional failure; exit %s"]
  - name: exit-handler
    steps:
    - - name: notify
        template: send-email
      - name: celebrate
        template: celebrate
        when: "{{workflow.status}} == Succeeded"
      - name: cry
        template: cry
        when: "{{workflow.status}} != Succeeded"
  - name: send-email
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["echo send e-mail: {{workflow.name}} {{workflow.status}} {{workflow.duration}}. Failed steps {{workflow.failures}}"]
  - name: celebrate
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["echo hooray!"]
  - name: cry
    container:
      image: alpine:latest
      command: [sh, -c]
      args: ["echo boohoo!"]
"""


def check(condition: str) -> str:
    """A ``check`` template that fails unless the python ``condition`` holds (its tags substituted first)."""
    return dedent(f"""
        - name: check
          container:
            image: python:3.12
            command: [python, -c, "import re, sys; sys.exit(not ({condition}))"]
        """)


DURATION = "re.fullmatch('[0-9]+[.][0-9]{6}', '{{workflow.duration}}')"  # "%f" of the seconds

DAG_HANDLER = """
- name: exit-handler
  dag:
    tasks:
      - {name: A, template: pass}
      - {name: ok, depends: A, template: pass, when: "{{workflow.status}} == Succeeded"}
      - {name: bad, depends: A, template: pass, when: "{{workflow.status}} != Succeeded"}
      - {name: last, depends: ok.Succeeded || bad.Succeeded, template: check}
"""

CASES = [
    Case(
        "exit-handlers-example-failed",
        "examples/exit-handlers.yaml as it is: the entrypoint exits 1, the workflow is Failed; the steps handler "
        "runs notify, skips celebrate (its when false, steps.go) and runs cry; the handler Succeeded",
        EXIT_HANDLERS % 1,
        "Failed",
        {
            "intentional-fail": "Failed",
            "onExit[0]": "Succeeded",
            "onExit[0].notify": "Succeeded",
            "onExit[0].celebrate": "Skipped",
            "onExit[0].cry": "Succeeded",
        },
        hooks={"onExit": "Succeeded"},
    ),
    Case(
        "exit-handlers-example-succeeded",
        "examples/exit-handlers.yaml with the entrypoint exiting 0: the workflow Succeeded, celebrate runs and "
        "cry is Skipped",
        EXIT_HANDLERS % 0,
        "Succeeded",
        {
            "intentional-fail": "Succeeded",
            "onExit[0]": "Succeeded",
            "onExit[0].notify": "Succeeded",
            "onExit[0].celebrate": "Succeeded",
            "onExit[0].cry": "Skipped",
        },
        hooks={"onExit": "Succeeded"},
    ),
    Case(
        "exit-handler-dag-on-workflow-status",
        "Hera's workflow_on_exit example in Argo's terms: a DAG handler whose tasks' when reads workflow.status "
        "(the workflow Failed: ok Skipped, bad runs), and depends over them (ancestry.go); the handler's DAG "
        "Succeeded by assessDAGPhase, the workflow keeps its Failed",
        dag(
            "- {name: A, template: fail}", spec="onExit: exit-handler", templates=DAG_HANDLER + check("True")
        ),
        "Failed",
        {
            "A": "Failed",
            "onExit.A": "Succeeded",
            "onExit.ok": "Skipped",
            "onExit.bad": "Succeeded",
            "onExit.last": "Succeeded",
        },
        hooks={"onExit": "Succeeded"},
    ),
    Case(
        "exit-handler-dag-failure-fails-workflow",
        "operator.go: a workflow that Succeeded takes its exit node's Failed; the DAG handler is Failed by its "
        "failed leaf (assessDAGPhase)",
        dag(
            "- {name: A, template: pass}",
            spec="onExit: exit-handler",
            templates=DAG_HANDLER + check("'{{workflow.status}}' == 'Failed'"),
        ),
        "Failed",
        {
            "A": "Succeeded",
            "onExit.A": "Succeeded",
            "onExit.ok": "Succeeded",
            "onExit.bad": "Skipped",
            "onExit.last": "Failed",
        },
        hooks={"onExit": "Failed"},
    ),
    Case(
        "exit-handler-steps-failure-fails-workflow",
        "operator.go (a succeeded workflow takes the exit node's phase) with steps.go executeSteps (a failed "
        "group fails the steps node): a steps handler whose step fails fails the workflow",
        dag(
            "- {name: A, template: pass}",
            spec="onExit: exit-handler",
            templates="""
            - name: exit-handler
              steps:
                - - {name: first, template: pass}
                - - {name: boom, template: fail}
            """,
        ),
        "Failed",
        {
            "A": "Succeeded",
            "onExit[0]": "Succeeded",
            "onExit[0].first": "Succeeded",
            "onExit[1]": "Failed",
            "onExit[1].boom": "Failed",
        },
        hooks={"onExit": "Failed"},
    ),
    Case(
        "workflow-duration-everywhere",
        "operator.go operate sets workflow.duration, fmt %f of the seconds since startedAt, on every pass: a task "
        "of the entrypoint and a step of a steps exit handler both read it",
        dag(
            "- {name: A, template: check}",
            spec="onExit: exit-handler",
            templates=check(DURATION)
            + dedent("""
                - name: exit-handler
                  steps:
                    - - {name: again, template: check}
                """),
        ),
        "Succeeded",
        {"A": "Succeeded", "onExit[0]": "Succeeded", "onExit[0].again": "Succeeded"},
        hooks={"onExit": "Succeeded"},
    ),
]
