"""withItems over maps, modelled on Hera's examples/workflows/loops/script-loops-maps.yaml (a script run once
per map item, each reading ``{{item.key}}``; Argo's examples/loops-maps.yaml). Adapted: a DAG for the steps,
and Argo's two os/version items."""

# ruff: noqa: SIM117  (Hera's own style: a DAG context nested in the Workflow's)

from hera.workflows import DAG, Workflow, script


@script(image="python:3.12")
def cat_os_release(os: str, version: str):
    print(f"{os} {version}")


with Workflow(generate_name="loops-maps-", entrypoint="loop-map-example") as w:
    with DAG(name="loop-map-example"):
        cat_os_release(
            name="test-linux",
            arguments={"os": "{{item.os}}", "version": "{{item.version}}"},
            with_items=[{"os": "debian", "version": "9.1"}, {"os": "ubuntu", "version": "17.10"}],
        )
