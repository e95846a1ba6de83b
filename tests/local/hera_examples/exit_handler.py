"""A workflow exit handler, modelled on Hera's examples/workflows/upstream/exit_handlers.py (Argo's
examples/exit-handlers.yaml): ``on_exit`` runs after the DAG, with ``{{workflow.status}}`` and
``{{workflow.failures}}``. Adapted: a DAG entrypoint whose task fails, and the handler checks what it sees."""

# ruff: noqa: SIM117  (Hera's own style: a DAG context nested in the Workflow's)

from hera.workflows import DAG, Container, Workflow, script


@script()
def intentional_fail():
    import sys

    sys.exit(1)


with Workflow(generate_name="exit-handlers-", entrypoint="main", on_exit="exit-handler") as w:
    Container(
        name="exit-handler",
        image="python:3.12",
        command=[
            "python",
            "-c",
            "import json, sys; failures = json.loads(sys.argv[1]); "
            "sys.exit(not (sys.argv[2] == 'Failed' and [f['displayName'] for f in failures] == ['fail']))",
            "{{workflow.failures}}",
            "{{workflow.status}}",
        ],
    )
    with DAG(name="main"):
        intentional_fail(name="fail")
