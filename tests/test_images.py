"""The step images: they install every library a step imports, at the project's pins, and run as non-root."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from workflows.settings import Settings, image_pinned

IMAGES = ROOT / "images"


def requirement_pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def step_imports() -> tuple[set[str], set[Path]]:
    """Top-level third-party modules imported by the steps and the project modules they import."""
    todo, seen, third_party = list((ROOT / "steps").glob("*.py")), set(), set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in ("steps", "workflows"):
                    base = ROOT.joinpath(*name.split("."))
                    todo.extend(p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists())
                elif top not in sys.stdlib_module_names:
                    third_party.add(top)
    return third_party, {p.relative_to(ROOT) for p in seen}


def test_every_module_a_step_imports_is_in_the_image_requirements():
    pins = requirement_pins((IMAGES / "requirements.txt").read_text())
    distributions = importlib.metadata.packages_distributions()
    modules, _ = step_imports()
    assert {"torch", "mlflow", "evidently", "boto3", "pandas"} <= modules  # the walk found the steps' imports
    missing = {
        module: distributions.get(module)
        for module in modules
        if not any(re.sub(r"[-_.]+", "-", d).lower() in pins for d in distributions.get(module, [module]))
    }
    assert missing == {}


def test_image_pins_are_the_project_pins():
    pins = requirement_pins((IMAGES / "requirements.txt").read_text())
    constraints = requirement_pins((ROOT / "constraints.txt").read_text())
    assert {
        name: (version, constraints.get(name))
        for name, version in pins.items()
        if constraints.get(name) != version
    } == {}


def test_the_images_copy_every_project_module_the_steps_import():
    _, modules = step_imports()
    for dockerfile in ("Dockerfile", "Dockerfile.gpu"):
        text = (IMAGES / dockerfile).read_text()
        copied = " ".join(line for line in text.splitlines() if line.startswith("COPY"))
        for module in modules:
            assert str(module.parent) + "/" in copied or str(module) in copied, (dockerfile, module)


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.gpu"])
def test_the_images_run_as_non_root_with_git_and_write_only_under_tmp(dockerfile):
    lines = (IMAGES / dockerfile).read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] == "10001"
    assert any("install" in line and " git " in line for line in lines)  # the deploy step runs git
    assert any(line.strip().startswith("ENV HOME=/tmp") for line in lines)
    base = next(line.split()[1] for line in lines if line.startswith("FROM "))
    assert image_pinned(base)


def test_settings_refuse_an_unpinned_image(monkeypatch):
    for good in (
        "ghcr.io/acme/steps:1.4.2",
        "localhost:5000/steps:0.1",
        "ghcr.io/acme/steps@sha256:" + "a" * 64,
    ):
        assert image_pinned(good), good
    for bad in ("ghcr.io/acme/steps", "ghcr.io/acme/steps:latest", "localhost:5000/steps"):
        assert not image_pinned(bad), bad
    with pytest.raises(ValueError, match="is not pinned"):
        Settings(image="ghcr.io/acme/steps:latest")
