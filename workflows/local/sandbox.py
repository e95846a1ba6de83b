"""A filesystem of its own for a task: a Linux mount namespace in which the template's paths are the task's folders.

On a cluster each pod has its own filesystem; run as a host process, a task that writes ``/tmp/x`` or ``/mnt/out``
would write the user's machine, and two parallel tasks would collide. A sandboxed attempt is started (in the child,
between fork and exec) in a new mount namespace (and a user namespace when not root, the uid mapped to itself, so
the command runs unprivileged), chrooted into its own folder, ``<run>/sandbox/<node>/attempt-N/root``: there the
host's top-level entries are bound read-only (an image's files, as it were), ``/tmp`` and any new top-level folder
(``/art``) are the attempt's own, a host folder that holds a declared path (``/mnt`` for ``/mnt/out``) is made
writable by an attempt folder that shows the host's entries again read-only (``overlays``), volume mounts are their
volumes' folders (workflows.local.volumes; read-only where the mount asks, a configMap's or secret's always, and a
key's file by ``subPath`` a file), and the run's own folder stays writable at its path. ``/proc`` and
``/dev`` are the host's, ``/dev/shm`` a fresh tmpfs. Each attempt (a retry too, as a new pod) starts afresh.

Which templates are sandboxed (``reason``): those that declare a path the host would give them, that is an
artifact, a volume mount other than the ``/tmp`` and ``/dev/shm`` scratch folders, or an output parameter outside
the folder an env variable names (the project's steps name theirs in ``MLOPS_OUTPUTS_DIR``, which the executor
points at the task's outputs folder, so they run on the host, and the warm starter can fork them). A sandboxed
attempt is always exec'd, never forked by the warm starter. Where no namespace can be made (``available``), a
workflow that needs one is refused by name before anything starts.
"""

from __future__ import annotations

import ctypes
import functools
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
AT_FDCWD, AT_RECURSIVE, MOUNT_ATTR_RDONLY, SYS_MOUNT_SETATTR = -100, 0x8000, 1, 442
SCRATCH = ("/tmp", "/dev/shm")  # emptyDir mounts every pod has anyway: no sandbox needed for them
HOST_OWN = ("proc", "dev", "sys", "tmp")  # top-level entries the sandbox makes itself


@dataclass
class Plan:
    """What a sandboxed attempt sees: its own writable ``root`` holding the host's top-level entries bound
    read-only; ``mounts`` (path inside, host folder or file) bound writable over it, in order, but those in
    ``read_only``; ``overlays``, host folders made writable by a folder of the attempt's that shows the host's
    entries again, read-only."""

    root: str
    mounts: list[tuple[str, str]] = field(default_factory=list)
    overlays: list[tuple[str, str]] = field(default_factory=list)
    cwd: str = "/"
    read_only: list[str] = field(default_factory=list)

    def host_path(self, inside: str) -> Path:
        """Where a path inside the sandbox lies on the host."""
        inside = resolved(inside)
        covering = [m for m in [*self.mounts, *self.overlays] if within(inside, m[0])]
        if covering:
            folder, host = max(covering, key=lambda m: len(m[0]))
            return Path(host) / os.path.relpath(inside, folder)
        return Path(inside) if host_bound(inside) else Path(self.root + inside)


def within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def host_bound(path: str) -> bool:
    """Whether the path lies in a top-level entry the sandbox shows from the host (read-only)."""
    top = path.strip("/").split("/")[0]
    return bool(top) and top not in HOST_OWN and os.path.lexists("/" + top)


def resolved(path: str) -> str:
    """The path with the host's links on its way followed (``/bin/x`` is ``/usr/bin/x`` where /bin is a link)."""
    path = os.path.normpath(path)
    if not host_bound(path):
        return path
    existing = path
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    return os.path.normpath(os.path.join(os.path.realpath(existing), os.path.relpath(path, existing)))


def declared_paths(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(what, path) of every path the template declares: parameters, artifacts, volume mounts."""
    body = template.get("container") or template.get("script") or {}
    found = []
    for side in ("inputs", "outputs"):
        for art in (template.get(side) or {}).get("artifacts") or []:
            if art.get("path"):
                found.append((f"{side}.artifacts '{art.get('name')}'", str(art["path"])))
    for parameter in (template.get("outputs") or {}).get("parameters") or []:
        path = (parameter.get("valueFrom") or {}).get("path")
        if path:
            found.append((f"outputs.parameters '{parameter.get('name')}'", str(path)))
    for mount in body.get("volumeMounts") or []:
        found.append((f"volumeMounts '{mount.get('name')}'", str(mount.get("mountPath", ""))))
    return found


def remapped_root(template: dict[str, Any]) -> str | None:
    """The output parameters' common folder when an env variable names it (the executor points it at the
    task's outputs folder), else None."""
    declared = [p["valueFrom"]["path"] for p in (template.get("outputs") or {}).get("parameters") or []]
    if not declared:
        return None
    root = os.path.commonpath(declared) if len(declared) > 1 else os.path.dirname(declared[0])
    env = (template.get("container") or template.get("script") or {}).get("env") or []
    return root if any(str(v.get("value", "")) == root for v in env) else None


def reason(template: dict[str, Any]) -> str | None:
    """Why the template needs a filesystem of its own (the first declared path the host would give it), or None."""
    if "container" not in template and "script" not in template:
        return None
    remapped = remapped_root(template)
    for what, path in declared_paths(template):
        if what.startswith("volumeMounts") and path in SCRATCH:
            continue
        if what.startswith("outputs.parameters") and remapped and within(path, remapped):
            continue
        return f"{what} at {path}"
    return None


@functools.cache
def available() -> str:
    """'' when this machine can make a mount namespace here, else why not (probed once, in a child)."""
    try:
        subprocess.run(["true"], preexec_fn=_probe, check=True, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"no mount namespace can be made here ({type(exc).__name__}: {exc})"
    return ""


def _probe() -> None:
    _unshare()
    _mount(
        "tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV
    )  # where user namespaces are allowed but mounts are not


def plan_for(
    template: dict[str, Any],
    container: dict[str, Any],
    folder: Path,
    run_dir: Path,
    volumes: Callable[[dict[str, Any]], Path],
    read_only: Callable[[dict[str, Any]], bool] = lambda mount: bool(mount.get("readOnly")),
) -> Plan:
    """The sandbox of one attempt, its folders made under ``folder`` (its ``/tmp``, where its output parameters
    usually lie, is ``folder/root/tmp``): volume mounts in the folders ``volumes`` gives (read-only where
    ``read_only`` says), the run's folder itself."""
    root, mounts, fixed = folder / "root", {}, []
    for mount in container.get("volumeMounts") or []:
        mounts[resolved(str(mount.get("mountPath")))] = str(volumes(mount))
        if read_only(mount):
            fixed.append(resolved(str(mount.get("mountPath"))))
    mounts[str(run_dir)] = str(run_dir)  # the run's folder stays writable at its own path
    overlays: dict[str, str] = {}
    for what, path in declared_paths(template):
        parent = os.path.dirname(resolved(path))
        if what.startswith("volumeMounts") or not host_bound(parent) or any(
            within(parent, k) for k in [*mounts, *overlays]
        ):  # fmt: skip
            continue  # in the attempt's own root, or in a folder mounted already
        while not os.path.isdir(parent):  # the host folder nearest to it becomes writable
            parent = os.path.dirname(parent)
        overlays = {k: v for k, v in overlays.items() if not within(k, parent)}
        overlays[parent] = str(folder / "overlays" / parent.lstrip("/"))
    for host in [*mounts.values(), *overlays.values(), str(root / "tmp")]:
        if not Path(host).is_file():  # a file: a key of a configMap or secret volume, by its subPath
            Path(host).mkdir(parents=True, exist_ok=True)
    cwd = container.get("workingDir") or os.getcwd()  # Popen's cwd is left behind by the chroot
    shown = (host_bound(cwd) and os.path.isdir(cwd)) or any(within(cwd, k) for k in [*mounts, *overlays])
    if not shown:  # a working folder the host does not show in the sandbox is the attempt's own
        (root / cwd.lstrip("/")).mkdir(parents=True, exist_ok=True)
    depth = lambda item: item[0].count("/")  # noqa: E731 - a folder before what lies in it
    return Plan(str(root), sorted(mounts.items(), key=depth), sorted(overlays.items(), key=depth), cwd, fixed)


# ---- in the child, between fork and exec: only system calls ---------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def _mount(source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    encode = lambda text: text.encode() if text is not None else None  # noqa: E731
    _check(_libc.mount(encode(source), encode(target), encode(kind), flags, encode(data)), f"mount {target}")


def _unshare() -> None:
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWNS | (0 if uid == 0 else CLONE_NEWUSER)), "unshare")
    if uid != 0:  # the same uid inside: the command runs unprivileged, owning what it writes
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing mounted here reaches the host


class MountAttr(ctypes.Structure):
    """mount_setattr(2)'s ``struct mount_attr``."""

    _fields_ = [("set", ctypes.c_uint64), ("clr", ctypes.c_uint64), ("prop", ctypes.c_uint64),
                ("userns", ctypes.c_uint64)]  # fmt: skip


READ_ONLY = MountAttr(MOUNT_ATTR_RDONLY, 0, 0, 0)  # made before any fork: the child only calls


def _read_only(target: str) -> None:
    """The bind at ``target`` and all below it read-only (mount_setattr; else its top mount only)."""
    done = _libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, target.encode(), AT_RECURSIVE, ctypes.byref(READ_ONLY),
                         ctypes.sizeof(READ_ONLY))  # fmt: skip
    if done != 0:
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def _bind_entry(source: str, target: str) -> None:
    """Show a host entry (folder, file or link) read-only at ``target``."""
    if os.path.islink(source):
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        open(target, "a").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    _read_only(target)


def _make_dir(root: str, inside: str) -> None:
    """``inside`` as a folder (or file, for a file's mount) in the new root; a read-only host folder on the way
    is shadowed by a tmpfs that shows its entries again."""
    target = root + inside
    if os.path.isdir(target):
        return
    parent = os.path.dirname(inside)
    _make_dir(root, parent)
    try:
        os.mkdir(target)
    except OSError:  # the parent is the host's, read-only
        _overlay(root, parent, None)
        os.mkdir(target)


def _make_file(root: str, inside: str) -> None:
    """``inside`` as a file in the new root, for a file's mount (made as ``_make_dir`` makes a folder)."""
    target, parent = root + inside, os.path.dirname(inside)
    if os.path.lexists(target):
        return
    _make_dir(root, parent)
    try:
        open(target, "a").close()
    except OSError:  # the parent is the host's, read-only
        _overlay(root, parent, None)
        if not os.path.lexists(target):
            open(target, "a").close()


def _overlay(root: str, inside: str, writable: str | None) -> None:
    """Make the host folder ``inside`` writable (a folder of the attempt's, or a tmpfs) with the host's entries
    bound in it read-only."""
    entries = os.listdir(inside)
    if writable is None:
        _mount("tmpfs", root + inside, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755")
    else:
        _mount(writable, root + inside, None, MS_BIND)
    for entry in entries:
        if not os.path.lexists(os.path.join(root + inside, entry)):
            _bind_entry(os.path.join(inside, entry), os.path.join(root + inside, entry))


def enter(plan: Plan) -> None:
    """Run in the child before exec: build the new root, then chroot into it and go to the working folder."""
    _unshare()
    root = plan.root
    for entry in sorted(os.listdir("/")):
        if entry not in HOST_OWN:
            _bind_entry("/" + entry, f"{root}/{entry}")
    for name, read_only in (("proc", False), ("dev", False), ("sys", True)):
        os.makedirs(f"{root}/{name}", exist_ok=True)
        _mount(f"/{name}", f"{root}/{name}", None, MS_BIND | MS_REC)
        if read_only:
            _read_only(f"{root}/{name}")
    _mount("tmpfs", f"{root}/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for inside, writable in plan.overlays:
        _make_dir(root, os.path.dirname(inside))
        _overlay(root, inside, writable)
    for inside, host in plan.mounts:
        (_make_dir if os.path.isdir(host) else _make_file)(root, inside)
        _mount(host, root + inside, None, MS_BIND)
        if inside in plan.read_only:
            _read_only(root + inside)
    os.chroot(root)
    os.chdir(plan.cwd)
