"""Watch a folder or S3 prefix and start one local training run per new data file, once.

The local twin of the cluster's Sensor: every new object starts a run with it as ``data-uri``.
A ledger records what was claimed and how its run ended. A claim is a file created with
``O_EXCL``, so a restarted watcher, two watchers, or ten triggers for one object start one run.
A changed object (new ETag, or new size and mtime) is new data and is claimed again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from steps import storage
from steps.errors import BadInput, StepError

# A local file changed this recently may still be being copied in.
SETTLE_SECONDS = 2.0


@dataclass
class Ledger:
    """One JSON file per (object, version) claimed: who claimed it, and what became of it."""

    folder: Path

    def _path(self, uri: str, version: str) -> Path:
        return self.folder / (hashlib.sha256(f"{uri}\n{version}".encode()).hexdigest()[:32] + ".json")

    def claim(self, uri: str, version: str) -> bool:
        """True for exactly one caller per (uri, version), across processes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self._path(uri, version), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as out:
            json.dump(
                {"uri": uri, "version": version, "state": "claimed", "pid": os.getpid(), "at": time.time()},
                out,
            )
        return True

    def settle(self, uri: str, version: str, **fields: Any) -> None:
        path = self._path(uri, version)
        entry = json.loads(path.read_text()) | fields
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(entry))
        temp.replace(path)

    def entries(self) -> list[dict[str, Any]]:
        return (
            [json.loads(p.read_text()) for p in sorted(self.folder.glob("*.json"))]
            if self.folder.exists()
            else []
        )


def new_objects(source: str) -> tuple[list[tuple[str, str]], list[tuple[str, float]]]:
    """The data files under ``source`` now, with their versions; and the local files changed too
    recently to read yet, each with the time (epoch seconds) from which a poll takes it."""
    if storage.is_s3(source):
        return storage.list_versions(source), []
    if not Path(source).is_dir():
        raise BadInput(f"{source}: not a folder (watch a folder or an s3:// prefix)")
    settled = storage.list_versions(source, settled_before=time.time() - SETTLE_SECONDS)
    ready = set(settled)
    waiting = []
    for uri, version in storage.list_versions(source):
        if (uri, version) not in ready:
            try:
                waiting.append((uri, Path(uri).stat().st_mtime + SETTLE_SECONDS))
            except OSError:  # gone since it was listed: nothing to wait for
                continue
    return settled, waiting


def poll(
    source: str,
    ledger: Ledger,
    start_run: Callable[[str], tuple[str, str]],
    allowed_prefixes: list[str],
    say: Callable[[str], None],
) -> list[str]:
    """Claim each unclaimed object and start its run; returns the runs started."""
    started = []
    ready, waiting = new_objects(source)
    for uri, settles_at in waiting:
        # Said, not skipped silently: with --once the user must know to poll again.
        at = datetime.fromtimestamp(settles_at).strftime("%H:%M:%S")
        say(f"not yet: {uri} changed in the last {SETTLE_SECONDS:g} s; a poll from {at} on picks it up")
    for uri, version in ready:
        if not ledger.claim(uri, version):
            continue
        try:
            storage.check_data_uri(uri, allowed_prefixes or [source])
        except BadInput as exc:
            ledger.settle(uri, version, state="refused", reason=str(exc))
            say(f"refused: {exc}")
            continue
        say(f"new data: {uri}")
        try:
            run, phase = start_run(uri)
        except StepError as exc:
            ledger.settle(uri, version, state="failed", reason=str(exc))
            say(f"could not start a run for {uri}: {exc}")
            continue
        ledger.settle(uri, version, state="done", run=run, phase=phase)
        say(f"{uri}: run {run} {phase}")
        started.append(run)
    return started
