"""Hera's canonical diamond (argoproj-labs/hera examples/workflows/dags/dag_diamond_with_script.py), unchanged
but for the workflow's variable name: A, then B and C, then D, each an ``@script`` echo."""

# ruff: noqa: SIM117  (Hera's own style: a DAG context nested in the Workflow's)

from hera.workflows import DAG, Workflow, script


@script(image="python:3.12")
def echo(message):
    print(message)


with Workflow(generate_name="dag-diamond-", entrypoint="diamond") as w:
    with DAG(name="diamond"):
        A = echo(name="A", arguments={"message": "A"})
        B = echo(name="B", arguments={"message": "B"})
        C = echo(name="C", arguments={"message": "C"})
        D = echo(name="D", arguments={"message": "D"})
        A >> [B, C] >> D
