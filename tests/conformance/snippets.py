"""Shared pieces of the conformance manifests: a DAG entrypoint around some tasks, and the argosay templates
Argo's e2e tests use (``argoproj/argosay:v2``: no args says hello, ``exit N`` exits N).

``error`` ends as Argo's ``Error`` rather than ``Failed``: its container exits 0 but never writes the declared
output parameter, so the wait container fails to save it (executor.go SaveParameters), which Argo's pod
reconciliation marks Error (operator.go inferFailedReason: a failed wait container is a NodeError).
"""

from __future__ import annotations

import textwrap

import pytest

from tests.conformance.case import Case

TEMPLATES = """
    - name: pass
      container: {image: "argoproj/argosay:v2"}
    - name: fail
      container: {image: "argoproj/argosay:v2", args: [exit, "1"]}
    - name: error
      container: {image: "argoproj/argosay:v2"}
      outputs:
        parameters: [{name: never, valueFrom: {path: /tmp/never-written}}]
    - name: exit-with
      inputs:
        parameters: [{name: code}]
      container: {image: "argoproj/argosay:v2", args: [exit, "{{inputs.parameters.code}}"]}
    - name: say
      inputs:
        parameters: [{name: message}]
      container: {image: "argoproj/argosay:v2", args: [echo, "{{inputs.parameters.message}}"]}
"""


def dag(tasks: str, spec: str = "", templates: str = "", main: str = "") -> str:
    """A workflow whose entrypoint ``main`` is a DAG of ``tasks`` (YAML list items), with the shared templates.

    ``spec`` adds lines under ``spec:``, ``main`` lines to the DAG template (inputs, ...), ``templates`` more
    templates; all as YAML written at the indentation of their place."""
    return (
        "\napiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {generateName: conformance-}\nspec:\n"
        "  entrypoint: main\n"
        + textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
        + ("\n" if spec.strip() else "")
        + "  templates:\n    - name: main\n"
        + textwrap.indent(textwrap.dedent(main).strip("\n"), "      ")
        + ("\n" if main.strip() else "")
        + "      dag:\n        tasks:\n"
        + textwrap.indent(textwrap.dedent(tasks).strip("\n"), "          ")
        + "\n"
        + TEMPLATES
        + textwrap.indent(textwrap.dedent(templates).strip("\n"), "    ")
        + "\n"
    )


# A case where the executor is known to disagree with Argo: kept with Argo's phases, run as a strict xfail.
# It is a pytest.param (so the parametrized test carries the mark) that still answers ``.name`` as a Case does.
_ParameterSet = type(pytest.param(None))


class Disagreement(_ParameterSet):
    __slots__ = ()

    @property
    def name(self) -> str:
        return self.values[0].name


def disagreement(case: Case, reason: str) -> Disagreement:
    return Disagreement((case,), (pytest.mark.xfail(strict=True, reason=reason),), None)
