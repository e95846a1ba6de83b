"""The cost of a real local run, through the CLI: ``mlops run`` leaves a ``cost.json`` that agrees with the
steps' own ``usage.json`` records, a preempted and retried GPU attempt is marked and shows the retries'
share (its last attempt on on-demand capacity, as the podSpecPatch asks), and ``mlops cost`` prints it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

# Killed by SIGKILL the first time (as a reclaimed spot node's pod is), done the second.
PREEMPTED_ONCE = (
    "import os, pathlib, signal, sys\n"
    "mark = pathlib.Path(sys.argv[1])\n"
    "if not mark.exists():\n"
    "    mark.write_text('killed once')\n"
    "    os.kill(os.getpid(), signal.SIGKILL)\n"
)


def manifest(root: Path, data: Path) -> Path:
    run_dir = f"{root / '.mlops' / 'runs'}/{{{{workflow.name}}}}"

    def step(name: str, module: str, *args: str) -> dict:
        return {
            "name": name,
            "container": {
                "image": "steps:1",
                "command": ["python", "-m", module],
                "args": ["--run-dir", run_dir, *args],
                "resources": {"requests": {"cpu": "500m", "memory": "2Gi"}},
            },
        }

    train = {
        "name": "train",
        "retryStrategy": {"limit": 1, "retryPolicy": "Always"},
        "podSpecPatch": '{"nodeSelector": {"karpenter.sh/capacity-type": '
        "\"{{=asInt(retries) >= 1 ? 'on-demand' : 'spot'}}\"}}",
        "container": {
            "image": "steps-gpu:1",
            "command": ["python", "-c", PREEMPTED_ONCE],
            "args": [str(root / "mark")],
            "resources": {"requests": {"cpu": "2", "memory": "8Gi", "nvidia.com/gpu": "1"}},
        },
    }
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "costed-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {
                    "name": "main",
                    "dag": {
                        "tasks": [
                            {"name": "ingest", "template": "ingest"},
                            {"name": "validate-data", "template": "validate-data", "depends": "ingest"},
                            {"name": "train", "template": "train", "depends": "validate-data"},
                        ]
                    },
                },
                step("ingest", "steps.ingest", "--data-uri", str(data)),
                step("validate-data", "steps.validate_data"),
                train,
            ],
        },
    }
    path = root / "costed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def mlops(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLOPS_") and k != "MLFLOW_TRACKING_URI"}
    env |= {"MLOPS_STORAGE_ROOT": str(root / ".mlops"), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "workflows.cli", *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def costed_run(tmp_path_factory, sample_data) -> tuple[Path, Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("cost")
    done = mlops(root, "run", str(manifest(root, sample_data)))
    [run_dir] = (root / ".mlops" / "runs").iterdir()
    return root, run_dir, done


def test_cost_json_agrees_with_the_usage_records(costed_run):
    _, run_dir, done = costed_run
    assert done.returncode == 0, done.stdout + done.stderr
    cost = json.loads((run_dir / "cost.json").read_text())
    usage = {path.parent.name: json.loads(path.read_text()) for path in run_dir.glob("*/usage.json")}
    assert set(usage) == {"ingest", "validate-data"}
    measured = {line["step"]: line for line in cost["lines"] if line["source"] == "usage.json"}
    assert set(measured) == set(usage)
    for step, record in usage.items():
        assert measured[step]["cpu_seconds"] == record["cpu_seconds"]
        assert measured[step]["peak_memory_mib"] == record["peak_rss_mib"]
        # billed at least what it used, and at least what it requested for as long as it ran
        assert measured[step]["vcpu_seconds"] >= record["cpu_seconds"]
        assert measured[step]["vcpu_seconds"] >= round(0.5 * measured[step]["wall_seconds"], 3)
    assert cost["totals"]["cpu_seconds"] == round(sum(r["cpu_seconds"] for r in usage.values()), 3)
    assert cost["totals"]["peak_memory_mib"] == max(r["peak_rss_mib"] for r in usage.values())
    assert cost["totals"]["cost"] == round(sum(line["cost"] for line in cost["lines"]), 6)
    assert "cost:" in done.stdout and str(run_dir / "cost.json") in done.stdout


def test_a_preempted_attempt_is_marked_and_is_the_retries_share(costed_run):
    _, run_dir, _ = costed_run
    cost = json.loads((run_dir / "cost.json").read_text())
    record = json.loads((run_dir / "run.json").read_text())
    train = [line for line in cost["lines"] if line["step"] == "train"]
    assert [(t["attempt"], t["exit_code"], t["retried"], t["preempted"]) for t in train] == [
        (1, 137, True, True),
        (2, 0, False, False),
    ]
    assert [t["capacity"] for t in train] == ["spot", "on-demand"]  # the podSpecPatch's choice per attempt
    walls = [a["duration_seconds"] for a in record["nodes"]["train"]["attempts"]]
    assert [t["wall_seconds"] for t in train] == walls
    assert [t["gpu_seconds"] for t in train] == [round(1 * wall, 3) for wall in walls]
    prices = cost["prices"]
    first = train[0]
    expected = (
        first["vcpu_seconds"] / 3600 * prices["spot"]["vcpu_hour"]
        + first["gib_seconds"] / 3600 * prices["spot"]["gib_hour"]
        + first["gpu_seconds"] / 3600 * prices["spot"]["gpu_hour"]["default"]
    )
    assert first["cost"] == round(expected, 6)
    assert cost["totals"]["retries_cost"] == first["cost"]
    assert cost["totals"]["retries_share"] == round(first["cost"] / cost["totals"]["cost"], 4)
    assert cost["totals"]["retried_attempts"] == cost["totals"]["preempted_attempts"] == 1


def test_mlops_cost_prints_the_table_and_the_json(costed_run):
    root, run_dir, _ = costed_run
    cost = json.loads((run_dir / "cost.json").read_text())
    shown = mlops(root, "cost")
    assert shown.returncode == 0, shown.stderr
    assert "Cost per run" in shown.stdout and run_dir.name in shown.stdout
    assert "█" in shown.stdout  # the bar chart
    assert f"{cost['totals']['retries_share']:.0%}" in shown.stdout
    assert "1 retried" in shown.stdout
    as_json = json.loads(mlops(root, "cost", "--json").stdout)
    assert as_json["totals"]["cost"] == cost["totals"]["cost"]
    assert [run["run"] for run in as_json["runs"]] == [run_dir.name]
    assert json.loads(mlops(root, "cost", "--json", "--since", "2999-01-01").stdout)["runs"] == []
    assert json.loads(mlops(root, "cost", "--json", "--model", "no-such-model").stdout)["runs"] == []


def test_a_bad_since_is_one_line(costed_run):
    root, _, _ = costed_run
    refused = mlops(root, "cost", "--since", "last tuesday")
    assert refused.returncode == 65
    assert (
        refused.stderr.strip()
        == "error: --since 'last tuesday': not a date; use YYYY-MM-DD or an ISO timestamp"
    )


def test_mlops_cost_run_shows_each_attempt_and_the_prices(costed_run):
    root, run_dir, _ = costed_run
    shown = mlops(root, "cost", "--run", run_dir.name)
    assert shown.returncode == 0, shown.stderr
    [first] = [line for line in shown.stdout.splitlines() if "retried, preempted" in line]
    assert [cell.strip() for cell in first.split("│")][1:4] == ["train", "1", "spot"]
    assert '"vcpu_hour"' in shown.stdout  # the inputs of the figure are shown
    missing = mlops(root, "cost", "--run", "no-such-run")
    assert missing.returncode == 65 and "--run 'no-such-run': no local run of that name" in missing.stderr
