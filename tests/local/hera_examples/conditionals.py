"""Hera's examples/workflows/dags/conditional.py (conditional execution on success and failure:
``r.on_success(s)``, ``r.on_failure(f)``). Adapted: ``random`` always raises, so the run is the same each
time: ``failure`` runs, ``success`` is Omitted, and as an omitted leaf it inherits the failure (Argo's
dag.go assessDAGPhase), so the workflow fails."""

# ruff: noqa: SIM117  (Hera's own style: a DAG context nested in the Workflow's)

from hera.workflows import DAG, Workflow, script


@script()
def random():
    raise Exception("failure")


@script()
def success():
    print("success")


@script()
def failure():
    print("failure")


with Workflow(generate_name="conditional-", entrypoint="d") as w:
    with DAG(name="d"):
        r = random()
        s = success()
        f = failure()

        r.on_success(s)
        r.on_failure(f)
