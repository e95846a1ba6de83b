"""Hera's generated models for lint, one part at a time: Argo Workflows' kinds, or Argo Events' objects.

Lint reads both parts from the copy ``hera.events.models`` holds (one package, checked to be the same
schema ``hera.workflows`` compiles with). That package's ``__init__`` imports every generated module
(0.87 s here); Argo's kinds with the Kubernetes models they use take 0.63 s, Argo Events' objects
0.53 s, and the Kubernetes models both share 0.29 s. A lint of workflows alone imports its part only,
and one of both can import the two parts in two processes (``workflows.argo.lint_events``).

The package is put in ``sys.modules`` unexecuted so that a part's import does not run its ``__init__``;
the first attribute read from the package (``hera.events.models.Sensor``, ``from hera.events.models
import ...`` anywhere later) runs it then, so the package is whole for whoever asks for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

PACKAGE = "hera.events.models"
KUBERNETES = f"{PACKAGE}.io.k8s.api.core.v1"  # what both parts import first
WORKFLOWS = f"{PACKAGE}.io.argoproj.workflow.v1alpha1"
EVENTS = f"{PACKAGE}.github.com.argoproj.argo_events.pkg.apis.events.v1alpha1"


def part(name: str) -> ModuleType:
    """One generated module of ``hera.events.models`` (``KUBERNETES``, ``WORKFLOWS``, ``EVENTS``)."""
    if PACKAGE not in sys.modules:
        _install_unexecuted_package()
    return importlib.import_module(name)


def workflow_kinds() -> ModuleType:
    return part(WORKFLOWS)


def event_objects() -> ModuleType:
    return part(EVENTS)


def _install_unexecuted_package() -> None:
    spec = importlib.util.find_spec(PACKAGE)
    assert spec is not None and spec.loader is not None, f"{PACKAGE} is not installed"
    package = importlib.util.module_from_spec(spec)  # __path__ set, __init__ not run

    def complete(name: str) -> Any:
        """PEP 562: a name the unexecuted package lacks runs its ``__init__`` once, then is read."""
        del package.__dict__["__getattr__"]
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[PACKAGE] = package
    sys.modules[PACKAGE.rsplit(".", 1)[0]].models = package  # as an import binds it in its parent
