"""B4: ingest of 1M rows in 8 Parquet partitions from moto's S3 server, against raw boto3 downloads.

Throughput: the partitions' bytes over the seconds ingest's storage layer takes to fetch them
(``storage.read_bytes`` with its retry configuration, ``ingest.READERS`` at once, as ingest reads),
against plain ``get_object(...).read()`` of the same objects one after another: target >= 0.8.
Also printed: the seconds to have them as one checked table (fetch, parse, schema checks, text
coercion, concatenation) and the whole step's wall time. Memory: the ingest step run as the
executor runs it reports its peak; what it adds over its imports must stay <= 3x the table's size
in memory. Medians of --repeats runs after one warm-up.
"""

from __future__ import annotations

import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import (
    Outcome,
    arguments,
    data_dir,
    generate_data,
    median_of,
    report,
    run,
    step_usage,
    timed,
)
from bench.s3_server import moto_server

BUCKET = "bench"


def upload(folder: Path, client) -> list[str]:
    client.create_bucket(Bucket=BUCKET)
    keys = []
    for path in sorted(folder.glob("*.parquet")):
        key = f"data/{path.name}"
        client.upload_file(str(path), BUCKET, key)
        keys.append(key)
    return keys


def main() -> None:
    args = arguments(__doc__)
    rows = 20_000 if args.quick else 1_000_000
    folder = generate_data(data_dir(f"rows-{rows}"), rows)
    with moto_server() as s3_env, tempfile.TemporaryDirectory() as scratch:
        os.environ.update(s3_env)
        import boto3

        from steps import storage
        from steps.ingest import READERS, read_dataset

        client = boto3.client("s3")
        keys = upload(folder, client)
        size = sum(client.head_object(Bucket=BUCKET, Key=k)["ContentLength"] for k in keys)

        def raw_downloads() -> None:
            for key in keys:
                client.get_object(Bucket=BUCKET, Key=key)["Body"].read()

        uri = f"s3://{BUCKET}/data/"
        storage.s3_client.cache_clear()

        def fetch_as_ingest_does() -> None:
            with ThreadPoolExecutor(max_workers=min(READERS, len(keys))) as pool:
                list(pool.map(storage.read_bytes, storage.list_files(uri)))

        baseline = median_of(lambda: timed(raw_downloads), args.repeats)
        figure = median_of(lambda: timed(fetch_as_ingest_does), args.repeats)
        to_table = median_of(lambda: timed(lambda: read_dataset(uri, {"event_time"})), args.repeats)
        table, _ = read_dataset(uri, {"event_time"})
        table_mib = float(table.memory_usage(deep=True).sum()) / 2**20
        del table

        def ingest_step() -> float:
            run_dir = Path(scratch, "runs", "bench")
            env = {"MLOPS_STORAGE_ROOT": scratch, "MLOPS_OUTPUTS_DIR": f"{scratch}/outputs"}
            return run(
                [sys.executable, "-m", "steps.ingest", "--run-dir", str(run_dir), "--data-uri", uri], env
            )

        step_seconds = median_of(ingest_step, args.repeats)
        used = step_usage(Path(scratch, "runs", "bench"), "ingest")
    added = used["peak_rss_mib"] - used["start_rss_mib"]
    ratio = baseline / figure
    memory_ratio = added / table_mib
    print(
        f"B4 ingest from moto's S3: {rows:,} rows, {len(keys)} partitions, {size / 2**20:.1f} MiB (median of {args.repeats})"
    )
    print(f"  baseline: raw boto3 downloads   {baseline:6.3f} s  {size / 2**20 / baseline:7.1f} MiB/s")
    print(
        f"  ingest's fetch (storage layer): {figure:6.3f} s  {size / 2**20 / figure:7.1f} MiB/s  ratio {ratio:.2f}"
    )
    print(f"  ... into one checked table:     {to_table:6.3f} s  {size / 2**20 / to_table:7.1f} MiB/s")
    print(f"  whole ingest step (subprocess): {step_seconds:6.3f} s")
    print(f"  table in memory {table_mib:.0f} MiB; step peak {used['peak_rss_mib']:.0f} MiB, "
          f"{used['start_rss_mib']:.0f} MiB after imports: adds {added:.0f} MiB = {memory_ratio:.2f}x the table")  # fmt: skip
    report(
        Outcome(
            id="B4",
            what=f"ingest {rows:,} rows, {len(keys)} Parquet partitions, moto S3",
            baseline=f"raw boto3 downloads {size / 2**20 / baseline:.0f} MiB/s",
            figure=f"fetch {size / 2**20 / figure:.0f} MiB/s; table in {to_table:.1f} s; peak +{added:.0f} MiB = {memory_ratio:.1f}x table; step {step_seconds:.1f} s",
            ratio=round(ratio, 3),
            target=">= 0.8; memory <= 3x",
            met=ratio >= 0.8 and memory_ratio <= 3,
        )
    )


if __name__ == "__main__":
    main()
