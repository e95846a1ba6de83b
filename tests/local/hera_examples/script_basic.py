"""A script's result passed on, modelled on Hera's examples/workflows/scripts/callable_script.py and
dags/passing_task_result.py: ``add`` prints a sum, ``show`` receives it as ``{{tasks.add.outputs.result}}``."""

# ruff: noqa: SIM117  (Hera's own style: a DAG context nested in the Workflow's)

from hera.workflows import DAG, Workflow, script


@script(image="python:3.12")
def add(a: int, b: int):
    print(a + b)


@script(image="python:3.12")
def show(total: int):
    assert total == 5, total
    print("the sum is", total)


with Workflow(generate_name="script-basic-", entrypoint="main") as w:
    with DAG(name="main"):
        summed = add(name="add", arguments={"a": 2, "b": 3})
        shown = show(name="show", arguments={"total": summed.result})
        summed >> shown
