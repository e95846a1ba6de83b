"""Flaky storage: S3 answers a share of requests with 503 SlowDown. boto3's retries inside the step
absorb most; a step that still fails exits 75 and is run again, as the executor's retry would.
The run succeeds and its outputs are identical to a clean run's."""

from __future__ import annotations

import io

import boto3
import numpy as np
import pytest

from steps import storage
from tests.conftest import local_env, run_step
from tests.support.flaky_proxy import FlakyProxy

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
CHAIN = (
    ("ingest", ["--data-uri", "s3://flaky-lake/incoming/"]),
    ("validate_data", []),
    ("features", []),
    ("train", ["--epochs", "2", "--batch-size", "256", "--seed", "4", "--device", "cpu"]),  # digests compared
)
STEP_RETRIES = 3


def run_chain_with_retries(run_dir: str, env: dict[str, str]) -> dict[str, dict]:
    results, retried = {}, 0
    for step, args in CHAIN:
        for _attempt in range(1 + STEP_RETRIES):
            done = run_step(step, "--run-dir", run_dir, *args, env=env)
            if done.returncode != 75:
                break
            retried += 1
        assert done.returncode == 0, done.stderr[-2000:]
        results[step] = done.result
    results["retried"] = retried
    return results


@pytest.mark.parametrize("failure_share", [0.2])
def test_a_flaky_s3_loses_nothing(s3_env, s3_server, sample_data, tmp_path, failure_share):
    client = boto3.client("s3")
    client.create_bucket(Bucket="flaky-lake")
    for path in sorted(sample_data.glob("*.parquet")):
        client.upload_file(str(path), "flaky-lake", f"incoming/{path.name}")
    env = local_env(tmp_path) | s3_env

    clean = run_chain_with_retries(f"s3://flaky-lake/runs/clean-{failure_share}", env)
    proxy = FlakyProxy(s3_server.url, failure_share, seed=int(failure_share * 100))
    server, url = proxy.serve()
    try:
        flaky = run_chain_with_retries(
            f"s3://flaky-lake/runs/flaky-{failure_share}", env | {"AWS_ENDPOINT_URL": url}
        )
    finally:
        server.shutdown()

    assert proxy.failed > 10 and proxy.forwarded > 0  # the faults really happened
    assert flaky["ingest"]["fingerprint"] == clean["ingest"]["fingerprint"]
    assert flaky["validate_data"] == clean["validate_data"]
    assert flaky["train"]["weights_digest"] == clean["train"]["weights_digest"]
    for split in ("train", "validation", "test"):
        a, b = (
            arrays(f"s3://flaky-lake/runs/{name}/features/{split}.npz")
            for name in (f"clean-{failure_share}", f"flaky-{failure_share}")
        )
        assert set(a.files) == set(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)


def arrays(uri: str):
    return np.load(io.BytesIO(storage.read_bytes(uri)))
