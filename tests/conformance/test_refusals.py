"""The other half of DESIGN.md 13: what the local executor does not implement it refuses before anything
starts, in one line naming the template or field, never a KeyError halfway through a run."""

from __future__ import annotations

import pytest

from steps.errors import BadInput
from tests.local.test_local_executor import container, workflow
from workflows.local.executor import LocalRun

INNER_DAG = {"name": "inner", "dag": {"tasks": [{"name": "x", "template": "ok"}]}}
INNER_STEPS = {"name": "isteps", "steps": [[{"name": "x", "template": "ok"}]]}
STEP_HOOKS = {
    "name": "isteps",
    "steps": [[{"name": "x", "template": "ok", "hooks": {"exit": {"templateRef": {}}}}]],
}
LOOP_HOOKS = {
    "name": "isteps",
    "steps": [[{"name": "x", "template": "ok", "withItems": [1], "onExit": "ok"}]],
}
DAG_HOOK = {"name": "a", "template": "ok", "hooks": {"done": {"expression": "true", "template": "inner"}}}
PATH_ON_DAG = {
    **INNER_DAG,
    "outputs": {"parameters": [{"name": "p", "valueFrom": {"path": "/tmp/p"}}]},
}
NO_COMMAND = {"name": "bare", "container": {"image": "alpine", "args": ["echo", "hi"]}}
ARTIFACT = [{"name": "data", "path": "/tmp/data"}]


def refused(tmp_path, doc, parameters=None):
    with pytest.raises(BadInput) as refusal:
        LocalRun(doc, parameters or {}, str(tmp_path / "runs"))
    assert not (tmp_path / "runs").exists()
    return str(refusal.value)


def with_task_template(template: dict, **spec) -> dict:
    return workflow(
        [{"name": "a", "template": template["name"]}], [template, container("ok", "pass")], **spec
    )


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            workflow(
                [{**DAG_HOOK, "hooks": {"exit": {"template": "isteps"}}}],
                [container("ok", "pass"), INNER_STEPS],
            ),
            "template 'isteps': a steps template used as a lifecycle hook is not implemented",
        ),
        (
            with_task_template(STEP_HOOKS),
            "spec.templates[1].steps[0][0].hooks.exit.templateRef: the local executor does not support hook field",
        ),
        (
            with_task_template(LOOP_HOOKS),
            "steps[0][0].onExit: hooks on a looped task or step are not implemented locally",
        ),
        (
            workflow([DAG_HOOK], [container("ok", "pass"), INNER_DAG]),
            "template 'inner': a dag template used as a lifecycle hook is not implemented",
        ),
        (
            workflow(
                [{"name": "a", "template": "ok"}], [container("ok", "pass")], hooks={"h": {"template": "ok"}}
            ),
            "spec.hooks.h.expression: a hook other than 'exit' needs an expression",
        ),
        (
            with_task_template({**INNER_DAG, "retryStrategy": {"retryPolicy": "Always"}}),
            "template 'inner': a retryStrategy without a limit retries the dag template 'inner' without end in Argo",
        ),
        (
            workflow(
                [{"name": "a", "template": "ok"}],
                [container("ok", "pass"), {**INNER_DAG, "retryStrategy": {"limit": 1}}],
                onExit="inner",
            ),
            "template 'inner': a retryStrategy on the dag exit handler 'inner' is not implemented",
        ),
        (
            with_task_template({**INNER_DAG, "activeDeadlineSeconds": 5}),
            "template 'inner': activeDeadlineSeconds on a nested dag template is not implemented",
        ),
        (
            with_task_template(PATH_ON_DAG),
            "outputs.parameters[0].valueFrom.path: the local executor does not support valueFrom 'path' on a dag",
        ),
        (with_task_template(NO_COMMAND), "template 'bare': a container without a command is not implemented"),
        (workflow([{"name": "a", "template": "nope"}], []), "task 'a': template 'nope' does not exist"),
        (
            {**workflow([], []), "spec": {"entrypoint": "bare", "templates": [NO_COMMAND]}},
            "template 'bare': a container without a command is not implemented",
        ),
        (
            with_task_template(container("ok2", "pass"), retryStrategy={"retryPolicy": "OnError"}),
            "spec.retryStrategy: a retryStrategy without a limit retries the dag template 'main' without end",
        ),
        (
            {
                **workflow([], []),
                "spec": {
                    "entrypoint": "isteps",
                    "templates": [{**INNER_STEPS, "retryStrategy": {}}, container("ok", "pass")],
                },
            },
            "template 'isteps': a retryStrategy without a limit retries the steps template 'isteps' without end",
        ),
        (
            with_task_template(
                {"name": "wait", "suspend": {"duration": "10"}, "outputs": {"parameters": []}}
            ),
            "spec.templates[1].outputs: outputs on a suspend template is not implemented",
        ),
        (
            with_task_template({"name": "wait", "suspend": {"duration": "ten seconds"}}),
            "spec.templates[1].suspend.duration: unable to parse ten seconds as a duration",
        ),
        (
            with_task_template({"name": "wait", "suspend": {"duration": "5", "template": "x"}}),
            "spec.templates[1].suspend.template: the local executor does not support suspend field 'template'",
        ),
        (
            {**workflow([], []), "spec": {"entrypoint": "isteps", "templates": [INNER_STEPS]}},
            "step 'x': template 'ok' does not exist",
        ),
    ],
    ids=[
        "steps-as-an-exit-hook",
        "hook-template-ref",
        "hook-on-a-loop",
        "dag-as-a-hook",
        "hook-without-expression",
        "retry-of-a-nested-dag-without-limit",
        "retry-of-a-dag-exit-handler",
        "deadline-of-a-nested-dag",
        "path-output-of-a-dag",
        "container-without-command",
        "missing-template",
        "container-entry-without-command",
        "workflow-retry-without-limit-on-the-dag-entrypoint",
        "empty-retry-on-a-steps-entrypoint",
        "outputs-of-a-suspend-template",
        "suspend-duration-unparsable",
        "suspend-unknown-field",
        "steps-entry-missing-template",
    ],
)
def test_a_template_the_executor_cannot_run_is_refused_by_name(tmp_path, doc, message):
    assert message in refused(tmp_path, doc)


GIT_ARTIFACT = [{"name": "data", "path": "/tmp/data", "git": {"repo": "https://example.com/r.git"}}]


@pytest.mark.parametrize(
    ("where", "artifacts", "message"),
    [
        (
            "inputs",
            GIT_ARTIFACT,
            ".inputs.artifacts[0].git: the local executor does not support input artifact field",
        ),
        (
            "outputs",
            [{"name": "data"}],
            ".outputs.artifacts[0].path: an artifact of a container or script template",
        ),
        (
            "workflow arguments",
            ARTIFACT,
            "spec.arguments.artifacts: the local executor does not support workflow",
        ),
        (
            "dag outputs",
            ARTIFACT,
            ".outputs.artifacts[0]: artifacts of a dag or steps template are not implemented",
        ),
    ],
    ids=["unknown-source", "no-path", "workflow-arguments", "dag-template"],
)
def test_what_artifacts_still_refuse_is_refused_by_name(tmp_path, where, artifacts, message):
    doc = with_task_template(container("ok2", "pass"))
    holder, key = {
        "inputs": (doc["spec"]["templates"][1], "inputs"),
        "outputs": (doc["spec"]["templates"][1], "outputs"),
        "workflow arguments": (doc["spec"], "arguments"),
        "dag outputs": (doc["spec"]["templates"][0], "outputs"),
    }[where]
    holder[key] = {**(holder.get(key) or {}), "artifacts": artifacts}
    assert message in refused(tmp_path, doc)


def test_a_configmap_volume_without_the_config_folder_is_refused_by_name(tmp_path, monkeypatch):
    """A ConfigMap is read from MLOPS_LOCAL_CONFIG_DIR (workflows.local.config_sources); unset, a mounted one is
    refused by name (on a cluster a missing ConfigMap leaves the pod in ContainerCreating)."""
    monkeypatch.delenv("MLOPS_LOCAL_CONFIG_DIR", raising=False)
    template = container("ok2", "pass")
    template["container"]["volumeMounts"] = [{"name": "c", "mountPath": "/etc/config"}]
    doc = with_task_template(template, volumes=[{"name": "c", "configMap": {"name": "cm"}}])
    assert refused(tmp_path, doc) == (
        "spec.volumes[0].configMap: ConfigMap 'cm' is read from a local folder: "
        "set MLOPS_LOCAL_CONFIG_DIR to a folder holding <name>/<key> files"
    )


def test_a_volume_source_other_than_emptydir_a_claim_a_configmap_or_a_secret_is_refused_by_name(tmp_path):
    doc = with_task_template(container("ok2", "pass"), volumes=[{"name": "h", "hostPath": {"path": "/srv"}}])
    assert "spec.volumes[0].hostPath: the local executor does not support volume field 'hostPath'" in refused(
        tmp_path, doc
    )


def test_a_workflow_that_needs_a_sandbox_is_refused_where_none_can_be_made(tmp_path, monkeypatch):
    """Where no mount namespace can be made (macOS, user namespaces off), a declared path would be the host's."""
    from workflows.local import sandbox

    monkeypatch.setattr(sandbox, "available", lambda: "no mount namespace can be made here (OSError: denied)")
    doc = with_task_template(container("ok2", "pass"))
    doc["spec"]["templates"][1]["outputs"] = {"artifacts": ARTIFACT}
    assert refused(tmp_path, doc) == (
        "spec.templates[1] 'ok2': outputs.artifacts 'data' at /tmp/data needs a filesystem of its own, "
        "and no mount namespace can be made here (OSError: denied)"
    )
    del doc["spec"]["templates"][1]["outputs"]  # the same workflow without the artifact runs on the host
    LocalRun(doc, {}, str(tmp_path / "runs"))


def test_unsupported_features_are_refused_before_anything_starts(tmp_path):
    suspend = {"name": "a", "suspend": {}}
    assert refused(tmp_path, with_task_template(suspend)) == (
        "spec.templates[1].suspend: template 'a': a suspend without a duration waits for `argo resume`, which the "
        "local executor does not implement: give it a duration"
    )
    global_input = container("ok2", "pass", inputs=["x"])
    global_input["inputs"]["parameters"][0]["globalName"] = "x"
    assert "input parameter field 'globalName'" in refused(tmp_path, with_task_template(global_input))
    script = {"name": "a", "script": {"image": "python", "source": "print(1)"}}
    assert "a script without a command" in refused(tmp_path, with_task_template(script))


def test_unknown_workflow_parameter_is_refused(tmp_path):
    doc = workflow([{"name": "a", "template": "ok"}], [container("ok", "pass")])
    assert "declares no such parameter" in refused(tmp_path, doc, {"epochs": "3"})


def test_an_entrypoint_input_with_no_argument_and_no_default_is_refused(tmp_path):
    """The entrypoint takes spec.arguments as its arguments (operator.go); an input none supplies is
    common.ProcessArgs' 'inputs.parameters.x was not supplied', before anything starts."""
    doc = workflow([{"name": "a", "template": "ok"}], [container("ok", "pass")])
    doc["spec"]["templates"][0]["inputs"] = {"parameters": [{"name": "x"}]}
    assert refused(tmp_path, doc).startswith("template 'main': inputs.parameters.x was not supplied")
