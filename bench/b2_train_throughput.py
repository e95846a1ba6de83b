"""B2: the train step's samples/s on the CPU, against a minimal PyTorch loop: target >= 0.90.

The step runs as the executor runs it (``python -m steps.train``, MLflow on sqlite, a checkpoint
after every epoch) on 1M generated rows prepared once by ingest, validate-data and features; its
samples/s counts the epochs' loops, as its result reports. The baseline, in the same run: the same
tensors, network, optimizer and batch size, shuffled index slicing, nothing else. Median of
--repeats runs after one warm-up each.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.common import Outcome, arguments, data_dir, generate_data, median_of, report, run

STEPS_BEFORE_TRAIN = ("ingest", "validate_data", "features")


def prepare(rows: int, root: Path) -> Path:
    """A run folder with the features of ``rows`` generated rows, as the steps before train leave it."""
    data = generate_data(data_dir(f"rows-{rows}"), rows)
    run_dir = root / "runs" / "bench"
    for step in STEPS_BEFORE_TRAIN:
        flags = ["--data-uri", str(data)] if step == "ingest" else []
        run([sys.executable, "-m", f"steps.{step}", "--run-dir", str(run_dir), *flags], env=env(root))
    return run_dir


def env(root: Path) -> dict[str, str]:
    return {"MLOPS_STORAGE_ROOT": str(root), "MLOPS_OUTPUTS_DIR": str(root / "outputs")}


def step_samples_per_second(run_dir: Path, root: Path, epochs: int, batch: int) -> float:
    shutil.rmtree(run_dir / "train", ignore_errors=True)  # else the step resumes from its checkpoint
    run([sys.executable, "-m", "steps.train", "--run-dir", str(run_dir), "--epochs", str(epochs),
         "--patience", str(epochs), "--batch-size", str(batch), "--device", "cpu"], env=env(root))  # fmt: skip
    return json.loads((run_dir / "train" / "result.json").read_text())["samples_per_second"]


def minimal_samples_per_second(run_dir: Path, epochs: int, batch: int) -> float:
    import torch
    import torch.nn.functional as F

    from steps.network import build_mlp

    with np.load(run_dir / "features" / "train.npz") as arrays:
        x, y = torch.from_numpy(arrays["X"]), torch.from_numpy(arrays["y"])
    torch.manual_seed(42)
    network = build_mlp(x.shape[1], [64, 32], 0.1)
    optimizer = torch.optim.AdamW(network.parameters(), lr=3e-3, weight_decay=1e-5)
    network.train()
    started = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), batch):
            index = order[start : start + batch]
            loss = F.binary_cross_entropy_with_logits(network(x[index]).squeeze(1), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return epochs * len(x) / (time.perf_counter() - started)


def main() -> None:
    args = arguments(__doc__)
    rows, epochs, batch = (20_000, 1, 512) if args.quick else (1_000_000, 3, 512)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        run_dir = prepare(rows, root)
        # Medians of rates: the higher the better, so the median of the measured rates themselves.
        baseline = median_of(lambda: minimal_samples_per_second(run_dir, epochs, batch), args.repeats)
        figure = median_of(lambda: step_samples_per_second(run_dir, root, epochs, batch), args.repeats)
    ratio = figure / baseline
    print(
        f"B2 train step on the CPU, {rows:,} rows, {epochs} epochs, batch {batch} (median of {args.repeats})"
    )
    print(f"  baseline: minimal PyTorch loop  {baseline:12,.0f} samples/s")
    print(f"  train step:                     {figure:12,.0f} samples/s  ratio {ratio:.2f}")
    report(
        Outcome(
            id="B2",
            what=f"train step samples/s, CPU, {rows:,} rows, batch {batch}",
            baseline=f"minimal PyTorch loop {baseline:,.0f}/s",
            figure=f"{figure:,.0f} samples/s",
            ratio=round(ratio, 3),
            target=">= 0.90",
            met=ratio >= 0.90,
        )
    )


if __name__ == "__main__":
    main()
