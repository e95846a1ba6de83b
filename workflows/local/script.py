"""A ``script`` template's attempt: its container with the source staged as a file.

As Argo runs it: the ``source`` (its ``{{...}}`` tags substituted, as the controller substitutes the whole
template) is written to a file of mode 0755 (workflow/executor/executor.go ``StageFiles``, at
``common.ExecutorScriptSourcePath``, ``/argo/staging/script``), and that file's path is appended to the
container's ``args`` (workflow/controller/operator.go ``executeScript``: ``mainCtr.Args = append(mainCtr.Args,
common.ExecutorScriptSourcePath)``; nothing is appended when the source is empty). The command then runs as
a container's does; its stdout is ``outputs.result``. Locally the file lies in the run's ``scripts`` folder,
one per node.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workflows.local.substitution import substitute


def staged(script: dict[str, Any], scope: dict[str, str], path: Path) -> dict[str, Any]:
    """The container a script template runs: its fields substituted, the source written to ``path``."""
    container = substitute(script, scope)
    source = container.pop("source", "") or ""
    if source:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_text(source)
        partial.chmod(0o755)
        partial.replace(path)
        container["args"] = [*(container.get("args") or []), str(path)]
    return container
