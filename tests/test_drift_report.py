"""The drift report's own process ends with the step: a step that fails leaves neither it nor its files."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from steps.drift_report import ReportProcess


def test_a_failed_step_kills_the_report_process_and_removes_its_folder():
    with pytest.raises(RuntimeError, match="the step failed"), ReportProcess() as report:
        folder = Path(report.folder.name)
        assert report.process.is_alive() and folder.is_dir()
        raise RuntimeError("the step failed")
    assert report.exitcode is not None and report.exitcode < 0  # killed, not left importing Evidently
    assert not folder.exists()


def test_the_report_process_ends_with_nothing_drawn_when_the_step_asks_for_nothing(capfd):
    with ReportProcess() as report:
        report.requests.close()  # the step's end of the pipe, as when it failed before its request
        report.process.join(timeout=120)
        assert report.process.exitcode == 0
        assert not Path(report.folder.name, "report.html").exists()
    sys.stdout.flush()
    assert capfd.readouterr().out == ""  # the step's stdout carries only its result line
