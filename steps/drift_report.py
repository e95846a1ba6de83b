"""Evidently's HTML drift report, drawn in a process of its own beside the drift step's work.

Importing Evidently takes seconds and drawing its report seconds more, all of it holding the GIL.
The drift step forks this process first thing (``ReportProcess``), before it starts any thread or
computes anything: the child imports Evidently while the step reads its data and predicts, then
draws while the step tests the columns. Forked, not started as a new interpreter, it shares what
the step already imported (pandas, NumPy, scikit-learn and SciPy too in a warm-started step): its
Evidently import is ~3.6 s after the warm starter's libraries against ~6 s from nothing. It waits
for one request on a pipe naming the two samples (Parquet files) and the page to write; the pipe's
end before a request (the step failed, stopped or was killed) ends it with nothing written.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pandas as pd


class ReportProcess:
    """The report's process, forked on entry, killed on the way out unless it finished."""

    def __enter__(self) -> ReportProcess:
        self.folder = tempfile.TemporaryDirectory(prefix="mlops-drift-report-")
        requests, self.requests = multiprocessing.Pipe(duplex=False)
        for stream in (sys.stdout, sys.stderr):  # what is buffered now must not be written twice
            stream.flush()
        self.process = multiprocessing.get_context("fork").Process(
            target=serve,
            args=(requests, self.requests, Path(self.folder.name, "stderr.log")),
            name="drift-report",
        )
        self.process.start()
        requests.close()  # the child's end: once the step's end closes too, the child reads end of input
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
        with contextlib.suppress(BrokenPipeError):  # the child already ended: wait() says how
            self.requests.send(line)
        self.requests.close()

    def wait(self) -> Path:
        """The finished page; a report that failed is a bug, raised with the child's last lines."""
        self.process.join()
        code = self.process.exitcode
        html = Path(self.folder.name, "report.html")
        if code != 0 or not html.exists():
            log = Path(self.folder.name, "stderr.log")
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"drawing the drift report failed (exit {code}):\n{tail}")
        return html

    def __exit__(self, *exc: object) -> None:
        if self.process.exitcode is None:  # the step failed or stopped: the page is not wanted
            self.process.kill()
        self.process.join()
        self.exitcode = self.process.exitcode
        self.process.close()
        self.requests.close()
        self.folder.cleanup()


def serve(requests: Connection, steps_end: Connection, errors: Path) -> None:
    """In the forked child: import Evidently, then draw the one report asked for, if any."""
    steps_end.close()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the step's handler: a stop ends the drawing
    log = os.open(errors, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)  # the step's stdout carries its result line: nothing of the report's goes there
    os.dup2(log, 2)
    os.close(log)
    import evidently.presets  # noqa: F401 - the slow import, done while the step reads its data

    try:
        request = requests.recv()
    except EOFError:
        return
    draw(request)


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
