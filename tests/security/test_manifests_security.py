"""What the cluster runs, checked for the platform's security rules: no parameter in a shell string,
non-root read-only containers, secrets only by reference, and RBAC that grants only what is used."""

from __future__ import annotations

import os

import pytest
import yaml

from workflows.argo.lint import lint_documents
from workflows.pipelines.compile import render
from workflows.settings import Settings

SHELLS = {"sh", "bash", "/bin/sh", "/bin/bash", "zsh", "ash", "dash"}
PLANTED = {
    "MLOPS_GITOPS_TOKEN": "planted-gitops-7c1e",
    "MLOPS_ARGOCD_TOKEN": "planted-argocd-9d2f",
    "ARGO_TOKEN": "planted-argo-3b8a",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Every generated file, compiled with secrets present in the environment."""
    saved = dict(os.environ)
    os.environ.update(PLANTED)
    try:
        return render(Settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def documents(rendered: dict[str, str]) -> list[tuple[str, dict]]:
    return [(name, doc) for name, text in rendered.items() for doc in yaml.safe_load_all(text) if doc]


def pod_templates(rendered: dict[str, str]) -> list[tuple[str, dict, dict]]:
    """(file, workflow spec, container template) for every container the workflows run."""
    found = []
    for name, doc in documents(rendered):
        spec = doc.get("spec") or {}
        spec = spec.get("workflowSpec", spec)
        for template in spec.get("templates") or []:
            if "container" in template:
                found.append((name, spec, template))
    return found


def test_no_template_puts_a_parameter_into_a_shell_string(rendered):
    templates = pod_templates(rendered)
    assert len(templates) >= 10
    for name, _, template in templates:
        command = template["container"]["command"]
        assert command[0] not in SHELLS and "-c" not in command, (name, template["name"])
        assert not any("{{" in part for part in command), (name, template["name"])
        for arg in template["container"].get("args", []):
            # a parameter is a whole argument (exec form), never spliced into a longer string
            assert "{{" not in arg or (arg.startswith("{{") and arg.endswith("}}") and arg.count("{{") == 1)
    # and lint would say so if one did
    doc = yaml.safe_load(rendered["manifests/training.yaml"])
    step = next(t for t in doc["spec"]["templates"] if "container" in t)
    step["container"]["command"] = ["sh", "-c"]
    step["container"]["args"] = ["python -m steps.ingest --data-uri {{inputs.parameters.data-uri}}"]
    problems = [str(p) for p in lint_documents("t.yaml", yaml.safe_dump(doc))]
    assert any("shell" in p for p in problems), problems


def test_containers_run_as_non_root_without_privileges_on_a_read_only_root(rendered):
    for name, spec, template in pod_templates(rendered):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert pod["seccompProfile"]["type"] == "RuntimeDefault"
        context = template["container"]["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, (name, template["name"])
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        mounts = {m["mountPath"] for m in template["container"]["volumeMounts"]}
        assert "/tmp" in mounts  # the only writable place: outputs, caches, HOME
        assert {v["name"] for v in spec["volumes"]} >= {
            m["name"] for m in template["container"]["volumeMounts"]
        }


def test_secrets_reach_pods_only_by_reference_and_never_appear_in_manifests(rendered):
    for name, text in rendered.items():
        for value in PLANTED.values():
            assert value not in text, (name, value)
    for name, _, template in pod_templates(rendered):
        for env in template["container"].get("env", []):
            assert "value" not in env or not any(
                w in env["name"].upper() for w in ("TOKEN", "SECRET", "PASSWORD", "KEY")
            ), (name, env)
        refs = [next(iter(e)) for e in template["container"].get("envFrom", [])]
        assert refs == ["configMapRef", "secretRef"], (name, refs)


def test_rbac_grants_only_what_the_workflows_and_the_sensor_use(rendered):
    roles = {
        doc["metadata"]["name"]: doc["rules"] for _, doc in documents(rendered) if doc.get("kind") == "Role"
    }
    grants = {
        name: sorted((group, resource, verb) for rule in rules for group in rule["apiGroups"] for resource in rule["resources"] for verb in rule["verbs"])
        for name, rules in roles.items()
    }  # fmt: skip
    assert grants == {
        "argo-mlops-workflow": sorted(
            [("argoproj.io", "workflowtaskresults", v) for v in ("create", "patch")]
            + [
                ("argoproj.io", "workflows", v) for v in ("create", "get", "list", "watch")
            ]  # drift's start-retrain step
        ),
        "argo-mlops-sensor": [("argoproj.io", "workflows", "create")],
    }
    kinds = {doc.get("kind") for _, doc in documents(rendered)}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}  # nothing cluster-wide
    for _, doc in documents(rendered):
        if doc.get("kind") == "Role":
            assert all("*" not in rule["verbs"] and "*" not in rule["resources"] for rule in doc["rules"])
