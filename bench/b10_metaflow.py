"""B10: `mlops run training` against the same pipeline as a Metaflow flow, 200k rows, 3 epochs.

The flow is the same work: one Metaflow step per task our run executed (ingest with de-duplication
and a split, validate-data, features with median fill and scaling, train of the same MLP, evaluate
by ROC AUC, register in MLflow on sqlite, and promote, deploy and notify when our run ran them), each
calling the project's step function with the very arguments our executor gave it (read back from
run.json, paths moved to the flow's own storage root), an earlier step's outputs passed on as
Metaflow artifacts. So the difference is the orchestration: Metaflow's local runtime starts each step
as a new process and persists its artifacts; ours forks warm steps. Every run starts from an empty
storage root (and, for Metaflow, an empty METAFLOW_HOME and local datastore) in a temporary folder.
Runs alternate (ours, Metaflow) after one warm-up of each. Targets: our median wall <= 0.67x
Metaflow's, and our worst run <= 1.2x our median.

Metaflow is an optional extra (``pip install -e '.[bench]'``, which ``make bench`` installs): without
it, this benchmark says so in one line and reports no figure.
"""

from __future__ import annotations

import importlib.util
import json
import statistics
import sys
import tempfile
from pathlib import Path

from bench.b1_workflow_overhead import executed, run_record, storage_root_of
from bench.common import ROOT, Outcome, arguments, data_dir, generate_data, mlops, report, run

FLOW = '''"""The training pipeline as a Metaflow flow: each step calls the project's step with our run's arguments."""
import json
import os
from pathlib import Path

from metaflow import FlowSpec, Parameter, step

PLAN = json.loads(Path(os.environ["B10_PLAN"]).read_text())


def run_task(flow, task):
    """The step's main with its arguments; arguments that were an earlier step's output take this run's."""
    import importlib

    planned = PLAN[task]
    root = os.environ["MLOPS_STORAGE_ROOT"]
    argv = [flow.values.get(a, a).replace(PLAN["_root"], root) for a in planned["argv"]]
    outputs = Path(root, "outputs", task)
    os.environ["MLOPS_OUTPUTS_DIR"] = str(outputs)
    try:
        importlib.import_module(planned["module"]).main(argv)
    except SystemExit as done:
        if done.code:
            raise RuntimeError(f"{{task}} exited {{done.code}}") from None
    values = dict(flow.values)
    for name, value in planned["outputs"].items():
        if value and (outputs / name).exists():
            values[value] = (outputs / name).read_text()
    flow.values = values


class TrainingFlow(FlowSpec):
    """ingest -> ... -> the last task our run ran, then end."""

{steps}
    @step
    def end(self):
        pass


if __name__ == "__main__":
    TrainingFlow()
'''

STEP = """    @step
    def {name}(self):
        {body}
        self.next(self.{following})

"""


def flow_source(tasks: list[str]) -> str:
    """A linear flow: start runs the first task, one step per task after it, then end."""
    names = ["start", *(t.replace("-", "_") for t in tasks[1:])]
    steps = []
    for index, (name, task) in enumerate(zip(names, tasks, strict=True)):
        body = ("self.values = {}\n        " if index == 0 else "") + f"run_task(self, {task!r})"
        following = names[index + 1] if index + 1 < len(names) else "end"
        steps.append(STEP.format(name=name, body=body, following=following))
    return FLOW.format(steps="".join(steps)).replace("{{", "{").replace("}}", "}")


def plan_of(record: dict) -> dict:
    """What each task of our run ran: its step module, arguments and declared outputs."""
    steps = executed(record)
    plan = {"_root": storage_root_of(steps), "_tasks": []}
    for task, command, _, outputs in steps:
        name = "notify" if task == "onExit" else task
        plan[name] = {"module": command[2], "argv": command[3:], "outputs": outputs}
        plan["_tasks"].append(name)
    return plan


def ours(data: Path, epochs: int) -> tuple[float, dict]:
    with tempfile.TemporaryDirectory() as root:
        wall = run(mlops("run", "training", "-p", f"data-uri={data}", "-p", f"epochs={epochs}"),
                   env={"MLOPS_STORAGE_ROOT": root})  # fmt: skip
        record = run_record(Path(root))
    if record["phase"] != "Succeeded":
        raise SystemExit(f"the local run ended {record['phase']}: {record['message']}")
    return wall, record


def metaflow(plan: dict) -> float:
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        (home / "flow.py").write_text(flow_source(plan["_tasks"]))
        (home / "plan.json").write_text(json.dumps(plan))
        env = {
            "B10_PLAN": str(home / "plan.json"),
            "PYTHONPATH": str(ROOT),
            "MLOPS_STORAGE_ROOT": str(home / "root"),
            "METAFLOW_HOME": str(home / "metaflow-home"),
            "METAFLOW_DATASTORE_SYSROOT_LOCAL": str(home),
            "METAFLOW_DEFAULT_DATASTORE": "local",
            "METAFLOW_DEFAULT_METADATA": "local",
            "METAFLOW_USER": "bench",
            "USERNAME": "bench",
        }
        return run([sys.executable, "flow.py", "--no-pylint", "run"], env=env, cwd=home)


def main() -> None:
    args = arguments(__doc__, repeats=5)
    if importlib.util.find_spec("metaflow") is None:
        print("B10 skipped: metaflow is not installed (pip install -e '.[bench]'; make bench installs it)")
        report(Outcome(id="B10", what="mlops run vs a Metaflow flow", baseline="metaflow not installed",
                       figure="skipped", ratio=None, target="<= 0.67", met=None))  # fmt: skip
        return
    rows, epochs = (20_000, 1) if args.quick else (200_000, 3)
    data = generate_data(data_dir(f"rows-{rows}"), rows)
    _, record = ours(data, epochs)  # the warm-up of ours; its record is the plan the flow follows
    plan = plan_of(record)
    if not args.quick:
        metaflow(plan)  # the warm-up of Metaflow: its imports, the page cache
    walls: dict[str, list[float]] = {"ours": [], "metaflow": []}
    for _ in range(args.repeats):
        walls["ours"].append(ours(data, epochs)[0])
        walls["metaflow"].append(metaflow(plan))
    mine, theirs = statistics.median(walls["ours"]), statistics.median(walls["metaflow"])
    ratio, spread = mine / theirs, max(walls["ours"]) / mine
    print(f"B10 mlops run training vs the same pipeline as a Metaflow flow, {rows:,} rows, {epochs} epochs")
    print(f"  tasks: {', '.join(plan['_tasks'])}")
    for side, values in walls.items():
        print(
            f"  {side:9s} "
            + " ".join(f"{v:6.2f}" for v in values)
            + f"  median {statistics.median(values):.2f} s"
        )
    print(f"  ours / Metaflow (medians) {ratio:.3f}; our worst / our median {spread:.3f} (target <= 1.2)")
    report(
        Outcome(
            id="B10",
            what=f"mlops run training vs a Metaflow flow of the same steps, {rows:,} rows, {epochs} epochs",
            baseline=f"Metaflow {theirs:.1f} s (median of {args.repeats})",
            figure=f"{mine:.1f} s, worst {max(walls['ours']):.1f} s ({spread:.2f}x median)",
            ratio=round(ratio, 3),
            target="<= 0.67; worst <= 1.2x median",
            met=ratio <= 0.67 and spread <= 1.2,
        )
    )


if __name__ == "__main__":
    main()
