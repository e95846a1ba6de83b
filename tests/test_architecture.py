"""One room per concern, imports one way (DESIGN.md's layout): an AST walk of every project module.

steps/ is the image and imports nothing of workflows/ or cron/ (steps.errors nothing of the project
at all); workflows/argo/ reads manifests as data; pipelines and cron build them with Hera; local and
cluster run them; nothing imports the CLI."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROJECT = ("steps", "workflows", "cron")
# What each room may import of the project, besides itself.
ALLOWED = {
    "workflows": set(),
    "steps.errors": set(),
    "steps.images": set(),
    "steps": {"steps"},
    "workflows.settings": {"steps"},
    "workflows.argo": {"steps.errors", "steps.images", "steps.settings", "workflows.settings"},
    "workflows.pipelines": {"steps", "workflows.argo", "workflows.settings", "cron"},
    "cron": {"steps", "workflows.argo", "workflows.settings", "workflows.pipelines"},
    "workflows.local": {"steps", "workflows.argo", "workflows.settings"},
    "workflows.cluster": {"steps", "workflows.argo", "workflows.settings"},
    "workflows.cli": {"steps", "workflows", "cron"},
}
LONGEST_MODULE = 420  # lines: a module over this holds more than one job


def room(module: str) -> str:
    """The most specific room a module lies in."""
    return max((name for name in ALLOWED if module == name or module.startswith(name + ".")), key=len)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import of the project's own modules, at any depth of the file."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from workflows.cli import runs` imports workflows.cli.runs: count the submodule.
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        found += [(node.lineno, name) for name in names if name.split(".")[0] in PROJECT]
    return found


def allowed(source_room: str, target: str) -> bool:
    if target == source_room or target.startswith(source_room + "."):
        return True
    return any(target == rule or target.startswith(rule + ".") for rule in ALLOWED[source_room])


def violations(root: Path) -> list[str]:
    problems = []
    for folder in PROJECT:
        for path in sorted((root / folder).rglob("*.py")):
            module = module_name(path, root)
            source_room = room(module)
            for line, target in project_imports(path.read_text()):
                if not allowed(source_room, target):
                    problems.append(f"{path.relative_to(root)}:{line}: {source_room} imports {target}")
    return problems


def test_imports_run_one_way():
    assert violations(ROOT) == []


@pytest.mark.parametrize(
    ("planted", "line", "caught"),
    [
        ("steps/ingest.py", "import workflows.settings", "steps imports workflows.settings"),
        (
            "steps/errors.py",
            "from steps.contract import run_step",
            "steps.errors imports steps.contract.run_step",
        ),
        (
            "workflows/argo/lint.py",
            "from workflows.local import executor",
            "workflows.argo imports workflows.local.executor",
        ),
        (
            "workflows/pipelines/events.py",
            "from workflows.cluster import submit",
            "workflows.pipelines imports workflows.cluster.submit",
        ),
        (
            "workflows/local/watch.py",
            "from workflows.cli import runs",
            "workflows.local imports workflows.cli.runs",
        ),
    ],
)
def test_a_planted_import_is_caught(tmp_path, planted, line, caught):
    for folder in PROJECT:
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = tmp_path / planted
    target.write_text(target.read_text() + f"\n{line}\n")
    assert [problem.split(": ", 1)[1] for problem in violations(tmp_path)] == [caught]


def test_no_module_holds_more_than_one_job():
    long = {
        str(path.relative_to(ROOT)): lines
        for folder in PROJECT
        for path in (ROOT / folder).rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > LONGEST_MODULE
    }
    assert long == {}, "split these by job"


def test_the_images_copy_only_steps():
    for dockerfile in ("Dockerfile", "Dockerfile.gpu"):
        copies = [line.split()[1:-1] for line in (ROOT / "images" / dockerfile).read_text().splitlines()]
        copied = {source for line in copies if line for source in line}
        assert not any(source.startswith(("workflows", "cron")) for source in copied), dockerfile
