"""A retried script, modelled on Hera's examples/workflows/upstream/retry_script.py (Argo's
examples/retry-script.yaml: ``retry_strategy=RetryStrategy(limit="10")`` on a script that fails at random).
Adapted: the script fails until its third attempt (Argo substitutes ``{{retries}}``, the attempt's retry
number, into the source), and a task depends on its success."""

# ruff: noqa: SIM117  (Hera's own style: a DAG context nested in the Workflow's)

from hera.workflows import DAG, RetryStrategy, Workflow, script


@script(image="python:3.12", retry_strategy=RetryStrategy(limit="10"))
def retry_script():
    import sys

    sys.exit(0 if int("{{retries}}") >= 2 else 1)


@script(image="python:3.12")
def after():
    print("retried and done")


with Workflow(generate_name="retry-script-", entrypoint="main") as w:
    with DAG(name="main"):
        flaky = retry_script(name="flaky")
        flaky >> after(name="after")
