"""Argo's ``synchronization.mutexes`` on one machine: an exclusive file lock per mutex name, held for the run,
so two local runs of one model take turns as they would on a cluster."""

from __future__ import annotations

import fcntl
import re
import sys
from pathlib import Path


class FileLocks:
    """Local stand-in for Argo's mutexes: one exclusive file lock per name, held for the run."""

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.folder, self.names, self.handles = folder, names, []

    def __enter__(self) -> FileLocks:
        if self.names:
            self.folder.mkdir(parents=True, exist_ok=True)
        for name in sorted(self.names):
            handle = (self.folder / (re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".lock")).open("w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(
                    f"waiting for mutex {name!r} (another run of this model holds it)",
                    file=sys.stderr,
                    flush=True,
                )
                fcntl.flock(handle, fcntl.LOCK_EX)
            self.handles.append(handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self.handles:
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def model_lock(storage_root: str, model: str) -> FileLocks:
    """The lock a local training run of ``model`` holds (its mutex ``training-{{model-name}}``), for a change to
    the model's champion made outside a run: it waits for the run rather than racing its promote and deploy.
    None to hold where the storage root is on S3: local runs then keep no locks there."""
    if storage_root.startswith("s3://"):
        return FileLocks(Path(), [])
    return FileLocks(Path(storage_root) / "locks", [f"training-{model}"])
