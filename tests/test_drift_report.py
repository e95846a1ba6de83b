"""The drift report's own process ends with the step: a step that fails leaves neither it nor its files."""

from __future__ import annotations

from pathlib import Path

import pytest

from steps.drift_report import ReportProcess


def test_a_failed_step_kills_the_report_process_and_removes_its_folder():
    with pytest.raises(RuntimeError, match="the step failed"), ReportProcess() as report:
        child, folder = report.process, Path(report.folder.name)
        assert child.poll() is None and folder.is_dir()
        raise RuntimeError("the step failed")
    assert child.returncode is not None and child.returncode < 0  # killed, not left importing Evidently
    assert not folder.exists()
