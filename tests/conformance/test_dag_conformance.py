"""The local executor gives the workflow and node phases Argo gives (DESIGN.md 13), case by case.

Each case (dag_cases, output_cases, loop_cases, script_cases, steps_cases) is a small workflow from Argo's e2e tests, examples or docs, with the
phases Argo's own assertions or documentation state; its ``source`` says where, and what was adapted.
"""

from __future__ import annotations

import pytest

from tests.conformance import (
    artifact_cases,
    dag_cases,
    depends_cases,
    entry_cases,
    exit_cases,
    flow_cases,
    hook_cases,
    loop_cases,
    memoize_cases,
    nested_cases,
    output_cases,
    parameter_cases,
    retry_cases,
    script_cases,
    steps_cases,
    when_cases,
)
from tests.conformance.case import Case, expected, observed, run_case

CASES = [*dag_cases.CASES, *output_cases.CASES, *loop_cases.CASES, *script_cases.CASES]
CASES += steps_cases.CASES  # steps templates and nested templates
CASES += entry_cases.CASES  # entrypoint kinds, spec.retryStrategy, globalName, suspend
CASES += [
    *depends_cases.CASES,
    *when_cases.CASES,
    *retry_cases.CASES,
    *flow_cases.CASES,
    *parameter_cases.CASES,
]
CASES += hook_cases.CASES  # lifecycle hooks
CASES += nested_cases.CASES  # loops and parallelism in nested templates
CASES += exit_cases.CASES  # a dag or steps exit handler
CASES += artifact_cases.CASES  # artifacts and volumes, each task in its own filesystem
CASES += memoize_cases.CASES  # memoize


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_phases_are_argos(case: Case, tmp_path):
    local = run_case(case, tmp_path)
    assert observed(local, case) == expected(case), case.source


def test_the_cases_are_many_and_named_once():
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)) >= 20
