"""The retry contract end to end: each exit code of the step contract, through the retryStrategy the project's
pipelines compile to and the executor that runs it. Bad input (65), a failed check (70), refused credentials
(77) and bad settings (78) get one attempt; a stop (75), a crash (1) and a kill (137, or SIGKILL itself) are
retried up to the limit, each after the compiled backoff (recorded, not slept)."""

from __future__ import annotations

import pytest

from workflows.local.executor import LocalRun
from workflows.pipelines.compile import cluster_settings, pipeline_document

EXITS = {
    65: "import sys; sys.exit(65)",
    70: "import sys; sys.exit(70)",
    77: "import sys; sys.exit(77)",
    78: "import sys; sys.exit(78)",
    75: "import sys; sys.exit(75)",
    1: "import sys; sys.exit(1)",
    137: "import sys; sys.exit(137)",
    "SIGKILL": "import os, signal; os.kill(os.getpid(), signal.SIGKILL)",
}
NOT_RETRIED = (65, 70, 77, 78)


class RecordedBackoff(LocalRun):
    """The executor with its backoff waits recorded instead of slept: the timing is the test's."""

    waits: list[float]

    def wait_backoff(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False


def compiled_strategies() -> dict[str, dict]:
    """Every distinct retryStrategy of the project's compiled pipelines, by the first template carrying it."""
    settings, found = cluster_settings(), {}
    for pipeline in ("training", "drift"):
        for template in pipeline_document(pipeline, settings)["spec"]["templates"]:
            strategy = template.get("retryStrategy")
            if strategy and strategy not in found.values():
                found[f"{pipeline}/{template['name']}"] = strategy
    return found


STRATEGIES = compiled_strategies()


def run_failing(tmp_path, strategy: dict, code: str) -> RecordedBackoff:
    template = {
        "name": "step",
        "retryStrategy": strategy,
        "container": {"image": "python:3.11", "command": ["python", "-c", code]},
    }
    doc = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": "retry-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": [{"name": "step", "template": "step"}]}},
                template,
            ],
        },
    }
    local = RecordedBackoff(doc, {}, str(tmp_path / "runs"), locks_dir=str(tmp_path / "locks"))
    local.waits = []
    local.run()
    return local


def test_the_matrix_covers_every_strategy_the_pipelines_compile_to():
    """The step's, deploy's and notify's (other limits and backoffs) and the drift run's child workflow's."""
    assert {"training/ingest", "training/deploy", "training/notify", "drift/start-retrain"} <= set(STRATEGIES)


@pytest.mark.parametrize("where", list(STRATEGIES))
@pytest.mark.parametrize("exit_code", list(EXITS), ids=str)
def test_exit_code_gets_the_attempts_the_contract_gives(tmp_path, where, exit_code):
    strategy = STRATEGIES[where]
    local = run_failing(tmp_path, strategy, EXITS[exit_code])
    node = local.record.nodes["step"]
    expected = 1 if exit_code in NOT_RETRIED else int(strategy["limit"]) + 1
    assert len(node.attempts) == expected, [a.message for a in node.attempts]
    code = 137 if exit_code == "SIGKILL" else exit_code
    assert [a.exit_code for a in node.attempts] == [code] * expected
    assert node.phase == ("Error" if exit_code == "SIGKILL" else "Failed")
    assert local.record.phase == node.phase  # the DAG fails as its failed task did
    backoff = strategy["backoff"]
    first, factor = float(backoff["duration"].rstrip("s")), float(backoff["factor"])
    assert local.waits == [first * factor**n for n in range(expected - 1)]
