"""Argo's e2e test image ``argoproj/argosay:v2`` as a local script (test/e2e/images/argosay/v2/main/argosay.go).

``echo [string] [file]``, ``exit [code]``, ``sleep duration``, ``cat [file...]``; anything else prints the usage
and exits 2, as the Go program's panic does. Go's builtin ``println`` writes to stderr, so ``echo`` without a
file writes there. A file under the template's outputs folder is written to the local outputs folder:
``ARGOSAY_OUTPUTS`` (the executor points it there) replaces the ``ARGOSAY_REMOTE`` prefix.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

USAGE = "usage: argosay [cat [file...]|echo [string] [file]|sleep duration|exit [code]]"


def local(path: str) -> Path:
    remote = os.environ.get("ARGOSAY_REMOTE", "").rstrip("/")
    if remote and (path == remote or path.startswith(remote + "/")):
        return Path(os.environ["ARGOSAY_OUTPUTS"] + path[len(remote) :])
    return Path(path)


def seconds(duration: str) -> float:
    """Go's time.ParseDuration for the forms the e2e tests use: '10s', '1m', '500ms'."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)", duration)
    if not match:
        raise SystemExit(f"time: invalid duration {duration!r}")
    return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def main(args: list[str]) -> int:
    command, rest = (args[0], args[1:]) if args else ("echo", [])
    if command == "echo" and len(rest) <= 1:
        print(rest[0] if rest else "hello argo", file=sys.stderr)
    elif command == "echo" and len(rest) == 2:
        target = local(rest[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(rest[0])
    elif command == "exit" and len(rest) <= 1:
        return int(rest[0]) if rest else 0
    elif command == "sleep" and len(rest) == 1:
        time.sleep(seconds(rest[0]))
    elif command == "cat":
        for name in rest:
            sys.stdout.write(local(name).read_text())
    else:
        print(USAGE, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
