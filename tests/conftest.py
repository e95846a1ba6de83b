"""Shared fixtures: real servers on loopback (MLflow, moto's S3), sample data, step subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests import warm_steps

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# Tests written before the step cache expect a rerun to run: the cache's own tests turn it on.
os.environ.setdefault("MLOPS_CACHE", "off")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} not up after {seconds}s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class Server:
    url: str
    process: subprocess.Popen


def start_mlflow(home: Path, port: int) -> Server:
    """A real ``mlflow server`` on sqlite under ``home``, on loopback at ``port``, in its own process group."""
    log = home / "server.log"
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    command = [
        str(BIN / "mlflow"), "server",
        "--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination", str(home / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    with log.open("a") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/health", process, 90, log)
    return Server(url, process)


def stop_mlflow(server: Server, sig: int = 15) -> None:
    os.killpg(server.process.pid, sig)
    server.process.wait(timeout=20)


@pytest.fixture(autouse=True)
def _mlflow_uris_restored() -> Iterator[None]:
    """A step or CLI command called in-process points MLflow at its store (``tracking.connect``), and
    MLflow also exports that to the environment: put both back, so that a later test's client and its
    step subprocesses do not read or write another test's registry."""
    from mlflow.tracking._model_registry import utils as registry
    from mlflow.tracking._tracking_service import utils as tracking

    variables = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = tracking._tracking_uri, registry._registry_uri, {name: os.environ.get(name) for name in variables}
    yield
    tracking._tracking_uri, registry._registry_uri, exported = saved
    for name, value in exported.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> Iterator[Server]:
    """A real ``mlflow server`` on sqlite, on loopback."""
    server = start_mlflow(tmp_path_factory.mktemp("mlflow"), free_port())
    try:
        yield server
    finally:
        stop_mlflow(server)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[Server]:
    """moto's S3 API server on loopback, as its own process."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/moto-api/", process, 30, log)
        yield Server(url, process)
    finally:
        stop(process)


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> dict[str, str]:
    """Environment for boto3 (in this process and in step subprocesses) pointing at moto."""
    env = {
        "AWS_ENDPOINT_URL": s3_server.url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from steps import storage

    storage.s3_client.cache_clear()
    return env


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """A small generated fraud dataset in 3 Parquet partitions."""
    from workflows.local.sample_data import generate, write_partitions

    out = tmp_path_factory.mktemp("data") / "transactions"
    write_partitions(generate(6000, seed=11), str(out), 3)
    return out


@dataclass
class StepRun:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]

    @property
    def result(self) -> dict:
        return json.loads(self.stdout.strip().splitlines()[-1])

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if ": error:" in line or "Traceback" in line]


def run_step(
    step: str,
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 300,
    cold: bool = False,
) -> StepRun:
    """``python -m steps.<step> ARGS`` as a real process, forked warm as ``mlops run`` forks it
    (``cold``: a new interpreter); returns its exit code, streams and outputs."""
    outputs = Path(tempfile.mkdtemp(prefix=f"outputs-{step}-"))
    full_env = os.environ | (env or {}) | {"MLOPS_OUTPUTS_DIR": str(outputs), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", f"steps.{step}", *args]
    ran = None if cold else warm_steps.run(command, full_env, cwd or ROOT, timeout)
    if ran is None:  # asked for, or the worker's starter is gone
        done = subprocess.run(
            command, capture_output=True, text=True, env=full_env, cwd=cwd or ROOT, timeout=timeout, check=False,
        )  # fmt: skip
        ran = done.returncode, done.stdout, done.stderr
    code, stdout, stderr = ran
    found = {p.name: p.read_text() for p in outputs.glob("*")} if outputs.exists() else {}
    return StepRun(code, stdout, stderr, found)


def local_env(root: Path, tracking_uri: str | None = None) -> dict[str, str]:
    """Settings for a step subprocess: everything under ``root``; MLflow at ``tracking_uri`` if given."""
    env = {"MLOPS_STORAGE_ROOT": str(root / ".mlops")}
    env["MLFLOW_TRACKING_URI"] = tracking_uri or f"sqlite:///{root / '.mlops' / 'mlflow.db'}"
    return env


# --- a registry on the real MLflow server, and a champion every registry test starts from ---

TRAINING_STEPS = ("ingest", "validate_data", "features", "train", "evaluate", "register", "promote")
MODEL = "e2e-fraud"


def run_chain(run_dir: Path, env: dict[str, str], args: dict[str, list[str]]) -> tuple[str, StepRun]:
    """Run the training steps in order; stop at the first that fails. Returns the last step run."""
    for step in TRAINING_STEPS:
        done = run_step(step, "--run-dir", str(run_dir), *args.get(step, []), env=env)
        if done.returncode != 0:
            return step, done
    return step, done


@dataclass
class Registry:
    url: str
    env: dict[str, str]

    def snapshot(self) -> dict:
        """Every registered model's versions and aliases, as the tracking server reports them."""
        from mlflow import MlflowClient

        client = MlflowClient(self.url)
        state = {}
        for model in client.search_registered_models():
            versions = client.search_model_versions(f"name = '{model.name}'")
            state[model.name] = {
                "aliases": dict(sorted(model.aliases.items()))
                if isinstance(model.aliases, dict)
                else model.aliases,
                "versions": sorted((v.version, v.run_id) for v in versions),
            }
        return state


@pytest.fixture(scope="session")
def registry(mlflow_server, tmp_path_factory) -> Registry:
    root = tmp_path_factory.mktemp("e2e")
    env = local_env(root, mlflow_server.url) | {"MLOPS_MODEL_NAME": MODEL, "MLOPS_EXPERIMENT": MODEL}
    return Registry(mlflow_server.url, env)


def champion_args(sample_data: Path) -> dict[str, list[str]]:
    """The flags of the champion's training pass (a rerun with them trains the same weights)."""
    return {
        "ingest": ["--data-uri", str(sample_data)],
        "train": [
            "--epochs",
            "12",
            "--batch-size",
            "128",
            "--patience",
            "4",
            "--device",
            "cpu",
        ],  # digests compared
        "evaluate": ["--min-auc", "0.6"],
    }


@pytest.fixture(scope="session")
def champion_run(registry, sample_data, tmp_path_factory) -> dict:
    """A first full pass that registers a champion; what other e2e tests start from."""
    run_dir = tmp_path_factory.mktemp("runs") / "pass1"
    args = champion_args(sample_data)
    step, done = run_chain(run_dir, registry.env, args)
    assert (step, done.returncode) == ("promote", 0), done.stderr[-3000:]
    return {
        "run_dir": run_dir,
        "register": _result(run_dir, "register"),
        "evaluate": _result(run_dir, "evaluate"),
    }


def _result(run_dir: Path, step: str) -> dict:
    import json

    return json.loads(Path(run_dir, step.replace("_", "-"), "result.json").read_text())
