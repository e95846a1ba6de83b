"""Hera's examples/workflows/steps/parallel_steps.py (a Steps template: one step, then a group of two in
parallel, ``s.parallel()``), the steps named explicitly so their node names are fixed: ``[0]``,
``[0].hello1``, ``[1]``, ``[1].hello2a``, ``[1].hello2b`` (Argo's steps.go names a group ``[i]`` and its
steps ``[i].name``)."""

# ruff: noqa: SIM117  (Hera's own style: a Steps context nested in the Workflow's)

from hera.workflows import Steps, Workflow, script


@script()
def hello(message: str):
    print(message)


with Workflow(generate_name="parallel-steps-", entrypoint="hello-hello-hello") as w:
    with Steps(name="hello-hello-hello") as s:
        hello(name="hello1", arguments={"message": "hello1"})
        with s.parallel():
            hello(name="hello2a", arguments={"message": "hello2a"})
            hello(name="hello2b", arguments={"message": "hello2b"})
