"""Compiled manifests: committed and fresh compile agree, lint passes, the executor can run them,
and lint names the faults a careless edit would introduce."""

from __future__ import annotations

import copy
import subprocess
import sys

import pytest
import yaml

from workflows.argo.lint import lint_documents
from workflows.local.preflight import check_supported
from workflows.pipelines.compile import MANIFESTS_DIR, OUTPUT_DIRS, ROOT, cluster_settings, render


@pytest.fixture(scope="module")
def fresh() -> dict[str, str]:
    """A compile as `mlops compile` makes it: from cluster.env, whatever MLOPS_* variables this shell has."""
    return render(cluster_settings())


def test_committed_manifests_match_a_fresh_compile(fresh):
    committed = {
        str(p.relative_to(ROOT)): p.read_text()
        for folder in OUTPUT_DIRS
        for p in (ROOT / folder).rglob("*.yaml")
    }
    assert set(committed) == set(fresh), "run `mlops compile` and commit manifests/ and deploy/"
    for name, text in fresh.items():
        assert committed[name] == text, f"{name} is stale: run `mlops compile` and commit it"


def test_every_manifest_passes_lint_and_hera(fresh):
    for name, text in fresh.items():
        assert [str(p) for p in lint_documents(name, text)] == []


def test_the_executor_supports_every_workflow_the_project_defines(fresh):
    documents = [
        doc
        for name, text in fresh.items()
        if name.startswith("manifests/")
        for doc in yaml.safe_load_all(text)
    ]
    workflows = [doc for doc in documents if doc["kind"] in ("Workflow", "WorkflowTemplate")]
    assert {doc["metadata"]["name"] for doc in workflows} == {"training", "drift", "sweep"}
    for doc in workflows:
        check_supported(doc)


def test_lint_checks_serving_argocd_and_rbac_fields(fresh):
    isvc = yaml.safe_load(fresh["deploy/serving/fraud-detector/inference-service.yaml"])
    isvc["spec"]["predictor"]["model"]["storageURI"] = isvc["spec"]["predictor"]["model"].pop("storageUri")
    app = yaml.safe_load(fresh["deploy/argocd/application.yaml"])
    app["spec"]["syncPolicy"]["automated"]["selfheal"] = True
    role = next(d for d in yaml.safe_load_all(fresh["deploy/rbac/workflow-rbac.yaml"]) if d["kind"] == "Role")
    role["rules"][0]["verb"] = ["get"]
    problems = [str(p) for doc in (isvc, app, role) for p in lint_documents("x.yaml", yaml.safe_dump(doc))]
    assert (
        "x.yaml: spec.predictor.model.storageURI: unknown field 'storageURI' for InferenceService" in problems
    )
    assert "x.yaml: spec.predictor.model.storageUri: required by InferenceService" in problems
    assert "x.yaml: spec.syncPolicy.automated.selfheal: unknown field 'selfheal' for Application" in problems
    assert "x.yaml: rules[0].verb: unknown field 'verb' for Role" in problems


def test_steps_run_in_exec_form_with_retries_by_the_contract(fresh):
    spec = yaml.safe_load(fresh["manifests/training.yaml"])["spec"]
    containers = [t for t in spec["templates"] if "container" in t]
    assert {t["name"] for t in containers} >= {
        "ingest",
        "validate-data",
        "features",
        "train",
        "evaluate",
        "register",
        "promote",
        "notify",
    }
    for template in containers:
        assert template["container"]["command"][:2] == ["python", "-m"]
        assert template["retryStrategy"]["retryPolicy"] == "Always"
        assert "asInt(lastRetry.exitCode) != 65" in template["retryStrategy"]["expression"]
    train = next(t for t in containers if t["name"] == "train")
    assert train["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert "asInt(retries) >= 3 ? 'on-demand' : 'spot'" in train["podSpecPatch"]
    tasks = {t["name"]: t for t in next(t for t in spec["templates"] if "dag" in t)["dag"]["tasks"]}
    for gated in ("promote", "deploy"):
        assert tasks[gated]["when"] == "'{{tasks.evaluate.outputs.parameters.decision}}' == 'promote'"
    assert tasks["deploy"]["depends"] == "promote"
    assert spec["onExit"] == "notify"
    assert spec["synchronization"]["mutexes"][0]["name"] == "training-{{workflow.parameters.model-name}}"


def _training() -> dict:
    return yaml.safe_load((MANIFESTS_DIR / "training.yaml").read_text())


def _dag(doc: dict) -> list[dict]:
    return next(t for t in doc["spec"]["templates"] if "dag" in t)["dag"]["tasks"]


def _task(doc: dict, name: str) -> dict:
    return next(t for t in _dag(doc) if t["name"] == name)


def misspelt_field(doc):
    doc["spec"]["templates"][0]["retryStrategy"]["limt"] = 3
    return "spec.templates[0].retryStrategy.limt: unknown field 'limt'"


def unknown_task_in_depends(doc):
    _task(doc, "features")["depends"] = "validate-dta"
    return "task 'features' depends on 'validate-dta', which is not a task of this DAG"


def cycle(doc):
    _task(doc, "ingest")["depends"] = "promote"
    return "the DAG has a cycle: "


def undeclared_output(doc):
    for parameter in _task(doc, "evaluate")["arguments"]["parameters"]:
        if parameter["name"] == "run-id":
            parameter["value"] = "{{tasks.train.outputs.parameters.run-identifier}}"
    return "template 'train' declares no output 'run-identifier'"


def undeclared_workflow_parameter(doc):
    _task(doc, "train")["arguments"]["parameters"][1]["value"] = "{{workflow.parameters.epoch}}"
    return "workflow parameter 'epoch' is not declared"


def missing_template(doc):
    _task(doc, "register")["template"] = "registr"
    return "template 'registr' does not exist"


def shell_string(doc):
    doc["spec"]["templates"][0]["container"]["command"] = [
        "sh",
        "-c",
        "python -m steps.ingest --data-uri {{inputs.parameters.data-uri}}",
    ]
    return "a {{...}} parameter is pasted into a shell script"


@pytest.mark.parametrize(
    "plant",
    [
        misspelt_field,
        unknown_task_in_depends,
        cycle,
        undeclared_output,
        undeclared_workflow_parameter,
        missing_template,
        shell_string,
    ],
)
def test_lint_names_each_planted_fault(plant):
    doc = copy.deepcopy(_training())
    expected = plant(doc)
    problems = [str(p) for p in lint_documents("training.yaml", yaml.safe_dump(doc))]
    assert any(expected in problem for problem in problems), problems
    assert all(problem.startswith("training.yaml: ") for problem in problems)


def test_mlops_lint_exits_non_zero_with_one_line_per_problem(tmp_path):
    doc = _training()
    misspelt_field(doc)
    cycle(doc)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    done = subprocess.run(
        [sys.executable, "-m", "workflows.cli", "lint", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 65  # bad input (the manifests), not a bug
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"{bad}: spec.") for line in lines)


def test_cron_workflows_schedule_their_templates(fresh):
    crons = {name: yaml.safe_load(text) for name, text in fresh.items() if name.startswith("manifests/cron-")}
    assert set(crons) == {"manifests/cron-retrain.yaml", "manifests/cron-drift-check.yaml"}
    expected = {"retrain": ("0 3 * * 1", "training"), "drift-check": ("0 6 * * *", "drift")}
    templates = {
        doc["metadata"]["name"]
        for name, text in fresh.items()
        if name.startswith("manifests/")
        for doc in yaml.safe_load_all(text)
        if doc["kind"] == "WorkflowTemplate"
    }
    for doc in crons.values():
        spec = doc["spec"]
        schedule, template = expected[doc["metadata"]["name"]]
        assert spec["schedules"] == [schedule] and spec["timezone"] == "UTC"
        assert spec["concurrencyPolicy"] == "Forbid" and spec["startingDeadlineSeconds"] == 3600
        assert spec["successfulJobsHistoryLimit"] == 3 and spec["failedJobsHistoryLimit"] == 5
        assert spec["workflowSpec"]["workflowTemplateRef"]["name"] == template and template in templates


def test_drift_retrains_through_a_resource_template_only_when_drifted(fresh):
    spec = yaml.safe_load(fresh["manifests/drift.yaml"])["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    tasks = {t["name"]: t for t in templates[spec["entrypoint"]]["dag"]["tasks"]}
    assert tasks["start-retrain"]["when"] == "{{tasks.drift.outputs.parameters.drifted}} == true"
    resource = templates["start-retrain"]["resource"]
    child = yaml.safe_load(resource["manifest"])
    assert resource["action"] == "create" and child["spec"]["workflowTemplateRef"]["name"] == "training"
    assert resource["successCondition"] == "status.phase == Succeeded"
    gauge = templates["drift"]["metrics"]["prometheus"][0]
    assert (
        gauge["name"] == "model_drift_share"
        and gauge["gauge"]["value"] == "{{outputs.parameters.drift-share}}"
    )
    assert templates["start-retrain"]["metrics"]["prometheus"][0]["counter"]["value"] == "1"
    assert spec["synchronization"]["mutexes"][0]["name"] == "drift-{{workflow.parameters.model-name}}"
    assert [t["name"] for t in spec["templates"]].count("drift") == 1


def test_lint_names_duplicate_template_names():
    doc = _training()
    doc["spec"]["templates"].append(dict(doc["spec"]["templates"][0]))
    problems = [str(p) for p in lint_documents("t.yaml", yaml.safe_dump(doc))]
    assert "t.yaml: spec.templates: more than one template is named 'ingest'" in problems
