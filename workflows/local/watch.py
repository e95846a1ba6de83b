"""Watch a folder or S3 prefix and start one local training run per new data file, once.

The local twin of the cluster's Sensor: every new object starts a run with it as ``data-uri``.
A ledger records what was claimed and how its run ended. A claim is a file created whole and
exclusively (a hard link of a written file: it exists complete or not at all), so a restarted
watcher, two watchers, or ten triggers for one object start one run. A changed object (new ETag,
or new size and mtime) is new data and is claimed again.

A watcher killed after claiming an object and before recording its run leaves the claim behind;
another watcher retakes it, once, when the claim is stale:

- its claimer ran on this host (same hostname and boot) and that process is gone (no such pid, a
  zombie, or a pid reused by a process started at another time): at once;
- its claimer ran elsewhere: when the claim's mtime, which the claimer refreshes every
  ``stale_after / 4`` seconds while its run goes on, is older than ``stale_after``;
- it cannot be read (left by an older version, cut short): when older than ``stale_after``.

Of the watchers that find one stale claim, one retakes it: each takes an exclusive ``flock`` on
the claim's lock file without waiting, and the one that gets it looks again and rewrites the
claim as its own (its pid, a fresh mtime), so that the next to get the lock finds it held. A
claimer on another host that is alive but silent for longer than ``stale_after`` (a frozen
machine) can have its object run twice: the price of judging other hosts by time.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from steps import storage
from steps.errors import BadInput, StepError

# A local file changed this recently may still be being copied in.
SETTLE_SECONDS = 2.0
# A claimer on another host that has not refreshed its claim for this long is taken for dead.
STALE_AFTER = 300.0


@cache
def _this_host() -> dict[str, str]:
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot = ""
    return {"host": socket.gethostname(), "boot": boot}


def _process_start(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks since boot) of a process, from /proc; None without /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return ("X", "") if Path("/proc/self/stat").exists() else None
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ", which may hold spaces
    return fields[0], fields[19]


def _alive(pid: int, started: str | None) -> bool:
    """Whether the process that wrote a claim on this host still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    found = _process_start(pid)
    if found is None:
        return True
    state, ticks = found
    return state not in ("Z", "X") and (not started or ticks == started)


@dataclass(frozen=True)
class Claim:
    """A claim won; ``retaken`` says why it was taken from a claimer that recorded no run."""

    retaken: str | None = None


@dataclass
class Ledger:
    """One JSON file per (object, version) claimed: who claimed it, and what became of it."""

    folder: Path
    stale_after: float = STALE_AFTER
    clock: Callable[[], float] = field(default=time.time, repr=False)

    def _path(self, uri: str, version: str) -> Path:
        return self.folder / (hashlib.sha256(f"{uri}\n{version}".encode()).hexdigest()[:32] + ".json")

    def _temp(self, path: Path) -> Path:
        return path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp")

    def _entry(self, uri: str, version: str, generation: int) -> dict[str, Any]:
        me = os.getpid()
        started = _process_start(me)
        return {
            "uri": uri, "version": version, "state": "claimed", "pid": me,
            "started": started[1] if started else "", **_this_host(), "at": self.clock(),
            "generation": generation,
        }  # fmt: skip

    def _written(self, path: Path, entry: dict[str, Any]) -> Path:
        temp = self._temp(path)
        temp.write_text(json.dumps(entry))
        now = self.clock()
        os.utime(temp, (now, now))
        return temp

    def claim(self, uri: str, version: str) -> Claim | None:
        """A claim for exactly one caller per (uri, version), across processes: a new one, or a stale
        one retaken; None when another caller holds it or its run is recorded."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self._path(uri, version)
        temp = self._written(path, self._entry(uri, version, 0))
        try:
            os.link(temp, path)
            return Claim()
        except FileExistsError:
            return self._retake(path, uri, version)
        except OSError:  # a file system without hard links: an exclusive create, then the content
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return self._retake(path, uri, version)
            with os.fdopen(fd, "w") as out:
                out.write(temp.read_text())
            return Claim()
        finally:
            temp.unlink(missing_ok=True)

    def _read(self, path: Path) -> tuple[dict[str, Any] | None, float]:
        """The claim ({} when unreadable) and its age by mtime; (None, 0) when there is none."""
        try:
            age = self.clock() - path.stat().st_mtime
            entry = json.loads(path.read_text())
        except FileNotFoundError:
            return None, 0.0
        except ValueError:
            return {}, age
        return (entry if isinstance(entry, dict) else {}), age

    def stale(self, path: Path) -> str | None:
        """Why the claim at ``path`` may be retaken, or None while it may not."""
        entry, age = self._read(path)
        if entry is None or (entry and entry.get("state") != "claimed"):
            return None
        if not entry:
            return f"an unreadable claim, untouched for {age:.0f} s" if age > self.stale_after else None
        pid, host = entry.get("pid"), entry.get("host")
        here = _this_host()
        if host == here["host"] and entry.get("boot") == here["boot"] and isinstance(pid, int):
            if _alive(pid, entry.get("started")):
                return None
            return f"its claimer (pid {pid} on this host) is gone and recorded no run"
        if age > self.stale_after:
            return f"its claimer (pid {pid} on {host or 'an unknown host'}) recorded no run and was last heard of {age:.0f} s ago"
        return None

    def _retake(self, path: Path, uri: str, version: str) -> Claim | None:
        if self.stale(path) is None:
            return None
        # One retaker at a time per claim; the kernel lets go of the lock of a process that dies.
        with open(path.with_name(f"{path.stem}.lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return None  # another watcher is retaking it
            reason = self.stale(path)  # again, under the lock: retaken since, or its run recorded?
            if reason is None:
                return None
            before, _ = self._read(path)
            entry = self._entry(uri, version, (before or {}).get("generation", 0) + 1)
            entry["retaken"] = {k: (before or {}).get(k) for k in ("pid", "host", "at")} | {"why": reason}
            os.replace(self._written(path, entry), path)
        return Claim(retaken=reason)

    @contextmanager
    def holding(self, uri: str, version: str) -> Iterator[None]:
        """While the body runs, the claim's mtime is refreshed every ``stale_after / 4`` seconds: how a
        watcher on another host knows the claimer lives."""
        path, stop = self._path(uri, version), threading.Event()

        def heartbeat() -> None:
            while not stop.wait(self.stale_after / 4):
                self.beat(path)

        beating = threading.Thread(target=heartbeat, name="ledger-heartbeat", daemon=True)
        beating.start()
        try:
            yield
        finally:
            stop.set()
            beating.join()

    def beat(self, path: Path) -> None:
        now = self.clock()
        with suppress(FileNotFoundError):
            os.utime(path, (now, now))

    def settle(self, uri: str, version: str, **fields: Any) -> None:
        path = self._path(uri, version)
        entry = json.loads(path.read_text()) | fields
        os.replace(self._written(path, entry), path)

    def entries(self) -> list[dict[str, Any]]:
        found = []
        for path in sorted(self.folder.glob("*.json")) if self.folder.exists() else []:
            entry, _ = self._read(path)
            if entry:
                found.append(entry)
        return found


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
        claim = ledger.claim(uri, version)
        if claim is None:
            continue
        if claim.retaken:
            say(f"retaking {uri}: {claim.retaken}")
        try:
            storage.check_data_uri(uri, allowed_prefixes or [source])
        except BadInput as exc:
            ledger.settle(uri, version, state="refused", reason=str(exc))
            say(f"refused: {exc}")
            continue
        say(f"new data: {uri}")
        try:
            with ledger.holding(uri, version):
                run, phase = start_run(uri)
        except StepError as exc:
            ledger.settle(uri, version, state="failed", reason=str(exc))
            say(f"could not start a run for {uri}: {exc}")
            continue
        ledger.settle(uri, version, state="done", run=run, phase=phase)
        say(f"{uri}: run {run} {phase}")
        started.append(run)
    return started
