"""Evidently's HTML drift report, drawn in a process of its own beside the drift step's work.

Importing Evidently takes seconds and drawing its report seconds more, all of it holding the GIL.
The drift step starts this process first (``ReportProcess``), so that Evidently's import overlaps
reading the data and predicting, and the drawing overlaps the column tests. The process imports
Evidently, then waits for one JSON line on stdin naming the two samples (Parquet files) and the
page to write; end of input before that line (the step failed or stopped) ends it with nothing
written. ``python -m steps.drift_report`` is not a step: only ``steps.drift`` runs it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

# The project's root, so that the child finds ``steps`` wherever the step runs from.
ROOT = Path(__file__).resolve().parent.parent


class ReportProcess:
    """The report's process, started on entry, killed on the way out unless it finished."""

    def __enter__(self) -> ReportProcess:
        self.folder = tempfile.TemporaryDirectory(prefix="mlops-drift-report-")
        path = Path(self.folder.name)
        self.errors = (path / "stderr.log").open("wb")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "steps.drift_report"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=self.errors,
            env=env,
        )
        return self

    def request(
        self, reference: pd.DataFrame, current: pd.DataFrame, drift_share: float, overrides: dict[str, str]
    ) -> None:
        """Hand over the samples to draw from; the drawing starts now, beside the caller's work."""
        path = Path(self.folder.name)
        reference.to_parquet(path / "reference.parquet")
        current.to_parquet(path / "current.parquet")
        line = {
            "reference": str(path / "reference.parquet"),
            "current": str(path / "current.parquet"),
            "html": str(path / "report.html"),
            "drift_share": drift_share,
            "overrides": overrides,
        }
        assert self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(line) + "\n").encode())
            self.process.stdin.close()
        except BrokenPipeError:  # the child already ended: wait() says how
            pass

    def wait(self) -> Path:
        """The finished page; a report that failed is a bug, raised with the child's last lines."""
        code = self.process.wait()
        html = Path(self.folder.name, "report.html")
        if code != 0 or not html.exists():
            self.errors.flush()
            tail = Path(self.folder.name, "stderr.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"drawing the drift report failed (exit {code}):\n{tail}")
        return html

    def __exit__(self, *exc: object) -> None:
        if self.process.poll() is None:  # the step failed or stopped: the page is not wanted
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
        self.errors.close()
        self.folder.cleanup()


def draw(request: dict[str, Any]) -> None:
    """Evidently's preset on the two samples, saved as a self-contained page."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    reference = pd.read_parquet(request["reference"])
    current = pd.read_parquet(request["current"])
    preset = DataDriftPreset(
        drift_share=request["drift_share"], per_column_method=request["overrides"] or None
    )
    snapshot = Report([preset]).run(current_data=current, reference_data=reference)
    target = Path(request["html"])
    partial = target.with_suffix(".partial")
    snapshot.save_html(str(partial))
    partial.replace(target)  # whole or absent


def main() -> None:
    import evidently.presets  # noqa: F401 - the slow import, done while the step reads its data

    line = sys.stdin.readline()
    if line.strip():
        draw(json.loads(line))


if __name__ == "__main__":
    main()
