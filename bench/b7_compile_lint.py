"""B7: `mlops compile && mlops lint` on every manifest the project makes: absolute, <= 2 s.

Both commands run as a user runs them, two fresh processes, writing to a scratch folder so the
committed manifests are not touched. Median of --repeats runs after one warm-up.
"""

from __future__ import annotations

import statistics
import tempfile

from bench.common import Outcome, arguments, median_of, mlops, report, run

TARGET_SECONDS = 2.0


def compile_and_lint(out: str) -> tuple[float, float]:
    compiled = run(mlops("compile", "--out", out))
    linted = run(mlops("lint", f"{out}/manifests", f"{out}/deploy"))
    return compiled, linted


def main() -> None:
    args = arguments(__doc__)
    with tempfile.TemporaryDirectory() as out:
        parts: list[tuple[float, float]] = []

        def measure() -> float:
            parts.append(compile_and_lint(out))
            return sum(parts[-1])

        total = median_of(measure, args.repeats)
    measured = parts[-args.repeats :]  # without the warm-up
    compiled = statistics.median(p[0] for p in measured)
    linted = statistics.median(p[1] for p in measured)
    print(f"B7 mlops compile && mlops lint (median of {args.repeats})")
    print(f"  compile {compiled:.2f} s, lint {linted:.2f} s, together {total:.2f} s")
    report(
        Outcome(
            id="B7",
            what="mlops compile && mlops lint, everything",
            baseline="none (absolute)",
            figure=f"{total:.2f} s (compile {compiled:.2f}, lint {linted:.2f})",
            ratio=None,
            target=f"<= {TARGET_SECONDS:.0f} s",
            met=total <= TARGET_SECONDS,
        )
    )


if __name__ == "__main__":
    main()
