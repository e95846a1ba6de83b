"""Hera's examples/workflows/loops/dynamic_fanout_fanin.py: ``generate`` prints a JSON list, ``fanout`` runs
once per item (withParam), ``fanin`` receives every item's value. Adapted: the items' values are their
results (``fanout.result``, the JSON list of the items' stdout) rather than an output parameter file, and
three items instead of ten."""

# ruff: noqa: SIM117, UP032  (Hera's own style: a DAG context nested in the Workflow's)

from hera.workflows import DAG, Workflow, script


@script(image="python:3.12")
def generate():
    import json
    import sys

    json.dump([{"value": i} for i in range(3)], sys.stdout)


@script(image="python:3.12")
def fanout(object: dict):
    print(object["value"] * 10)


@script(image="python:3.12")
def fanin(values: list):
    assert values == [0, 10, 20], values
    print("Received values: {values}!".format(values=values))


with Workflow(generate_name="dynamic-fanout-fanin-", entrypoint="d") as w:
    with DAG(name="d"):
        g = generate()
        fout = fanout(with_param=g.result)
        fin = fanin(arguments={"values": fout.result})
        g >> fout >> fin
