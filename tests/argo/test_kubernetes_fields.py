"""Lint checks core kinds against a copy of the kubernetes client's models: the copy is current, and
lint finds a typo at any depth of it without importing the client."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from workflows.argo.kubernetes_snapshot import TARGET, render
from workflows.argo.lint import lint_documents

ROOT = Path(__file__).resolve().parents[2]
BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "runner", "namespace": "ml", "lables": {"a": "b"}},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "runner"},
    "subjects": [{"kind": "ServiceAccount", "name": "runner"}, {"kind": "ServiceAccount", "nmae": "x"}],
}


def test_the_copy_matches_the_installed_client():
    assert TARGET.read_text() == render(), "stale: run python -m workflows.argo.kubernetes_snapshot"


def test_unknown_fields_are_found_in_nested_and_listed_models():
    problems = [str(p) for p in lint_documents("x.yaml", yaml.safe_dump(BINDING))]
    assert problems == [
        "x.yaml: metadata.lables: unknown field 'lables' for RoleBinding",
        "x.yaml: subjects[1].nmae: unknown field 'nmae' for RoleBinding",
    ]


def test_linting_a_core_kind_leaves_the_kubernetes_client_unimported():
    code = (
        "import sys, yaml; from workflows.argo.lint import lint_documents; "
        f"lint_documents('x.yaml', yaml.safe_dump({BINDING!r})); print('kubernetes' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
