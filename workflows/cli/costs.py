"""mlops cost: what each run and each model version cost, from the runs' ledgers (``cost.json``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from steps.errors import BadInput, StepError
from workflows.cli.support import contract_errors

if TYPE_CHECKING:
    from workflows.argo.ledger import Ledger
    from workflows.local.record import RunRecord
    from workflows.local.warm_start import WarmStarter

BAR_WIDTH = 24  # characters of the longest bar in the chart


def settle_cost(out: Console, record: RunRecord, settings, starter: WarmStarter | None = None) -> None:
    """At the end of ``mlops run``: the run's ``cost.json``, its totals on its MLflow runs and registered
    version (through the run's warm ``starter`` when there is one), and one line saying what it cost.
    A ledger that cannot be made never fails the run."""
    from workflows.local.cost_tracking import record_costs
    from workflows.local.ledger import local_ledger, started_runs, write_cost

    def say(line: str) -> None:
        out.print(line, highlight=False, markup=False, soft_wrap=True)

    run_dir = Path(record.run_dir)
    try:
        ledger = local_ledger(run_dir, settings)
        path = write_cost(run_dir, ledger)
        started = [
            (run_dir.parent / child, local_ledger(run_dir.parent / child, settings))
            for child in started_runs(record)
        ]
    except StepError as exc:
        say(f"cost:       not computed: {exc}")
        return
    except Exception as exc:  # a bug in the ledger is reported, never turned into the run's failure
        say(f"cost:       not computed: {type(exc).__name__}: {exc}")
        return
    totals = ledger.totals()
    say(
        f"cost:       {money(totals['cost'], ledger)} ({totals['gpu_hours']:.6f} GPU-hours; "
        f"retries {totals['retries_share']:.0%}) in {path}"
    )
    # A run it started (drift's retrain) carries this run's cost too: the check is part of what its model cost.
    for child_dir, child in started:
        child.upstream[record.name] = totals["cost"]
        written = write_cost(child_dir, child)
        say(
            f"cost:       {child.run}: {money(child.totals()['model_cost'], child)} with this run's, in {written}"
        )
    for recorded, error in record_costs([(run_dir, ledger), *started], settings, starter):
        if error:  # the tracking store is down: the ledger is on disk, the run stands
            say(f"cost:       not recorded in MLflow: {error}")
            return
        if recorded:
            say(f"cost:       recorded on {', '.join(recorded)}")


def money(amount: float, ledger: Ledger | None = None, currency: str | None = None) -> str:
    unit = currency or (ledger.prices.get("currency", "USD") if ledger else "USD")
    return f"{amount:.6f} {unit}"  # a local run costs fractions of a cent


def since_date(text: str | None) -> str:
    """``--since`` as the ISO timestamp prefix runs are compared with; a bad date is refused, named."""
    if not text:
        return ""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--since {text!r}: not a date; use YYYY-MM-DD or an ISO timestamp") from None
    when = when.replace(tzinfo=when.tzinfo or UTC).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def ledgers(runs_root: Path, settings) -> list[Ledger]:
    """Every local run's ledger: its ``cost.json``, or one made now for a run that has none (not written)."""
    from workflows.local.ledger import local_ledger, read_cost

    found = []
    for record in sorted(runs_root.glob("*/run.json")):
        run_dir = record.parent
        try:
            found.append(read_cost(run_dir) or local_ledger(run_dir, settings))
        except (StepError, ValueError, KeyError, TypeError):
            continue  # a folder that is not a run's, or a record from an older layout: not a cost
    return sorted(found, key=lambda ledger: ledger.started_at)


def by_version(chosen: list[Ledger]) -> list[dict]:
    """Runs grouped by the model version they registered, cost and GPU-hours summed."""
    versions: dict[tuple[str, str], dict] = {}
    for ledger in chosen:
        if not ledger.model:
            continue
        key = (ledger.model["name"], ledger.model["version"])
        totals = ledger.totals()
        entry = versions.setdefault(
            key, {"model": key[0], "version": key[1], "runs": [], "cost": 0.0, "gpu_hours": 0.0}
        )
        entry["runs"].append(ledger.run)
        entry["cost"] = round(entry["cost"] + totals["model_cost"], 6)
        entry["gpu_hours"] = round(entry["gpu_hours"] + totals["gpu_hours"], 6)
    return list(versions.values())


def summary(chosen: list[Ledger]) -> dict:
    from workflows.argo.ledger import retries_share

    totals = [ledger.totals() for ledger in chosen]
    cost = round(sum(t["cost"] for t in totals), 6)
    retries = round(sum(t["retries_cost"] for t in totals), 6)
    return {
        "runs": len(chosen),
        "cost": cost,
        "gpu_hours": round(sum(t["gpu_hours"] for t in totals), 6),
        "retries_cost": retries,
        "retries_share": retries_share(retries, cost),
    }


def bar(amount: float, largest: float) -> str:
    return "█" * max(1, round(BAR_WIDTH * amount / largest)) if largest and amount else ""


@contract_errors
def cost_command(
    model: Annotated[
        str | None, typer.Option(help="only runs that registered a version of this model")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="only runs started on or after this date (YYYY-MM-DD)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON for scripts instead of tables")] = False,
    run: Annotated[str | None, typer.Option(help="one run's attempts, line by line")] = None,
    cluster: Annotated[
        bool,
        typer.Option(help="--run names a Workflow on the cluster: read its status through the Argo Server"),
    ] = False,
) -> None:
    """What each local run and each model version cost: CPU, memory and GPU time priced by MLOPS_PRICES,
    with the retries' share and a bar chart.

    Example: mlops cost --model fraud-detector --since 2026-01-01; mlops cost --run training-x7k2q --cluster
    """
    from workflows.settings import load_settings

    settings = load_settings()
    if run or cluster:
        ledger, started = one_ledger(run, cluster, settings)
        show_run(ledger, as_json, started)
        return
    after = since_date(since)
    chosen = [
        ledger
        for ledger in ledgers(Path(settings.runs_root), settings)
        if (not model or (ledger.model or {}).get("name") == model) and ledger.started_at >= after
    ]
    currency = settings.prices.currency
    if as_json:
        runs = [{**ledger.to_json(), "lines": None} for ledger in chosen]
        shown = {
            "currency": currency,
            "runs": runs,
            "versions": by_version(chosen),
            "totals": summary(chosen),
        }
        print(json.dumps(shown, indent=2))
        return
    out = Console()
    if not chosen:
        out.print(f"no local runs{f' of model {model}' if model else ''}{f' since {since}' if since else ''}")
        return
    out.print(run_table(chosen, currency))
    versions = by_version(chosen)
    if versions:
        out.print(version_table(versions, currency))
    total = summary(chosen)
    out.print(
        f"total: {money(total['cost'], currency=currency)} over {total['runs']} run(s), "
        f"{total['gpu_hours']:.6f} GPU-hours; retries {money(total['retries_cost'], currency=currency)} "
        f"({total['retries_share']:.0%})",
        highlight=False,
    )


def run_table(chosen: list[Ledger], currency: str) -> Table:
    view = Table(title=f"Cost per run ({currency}, priced by MLOPS_PRICES)", title_justify="left")
    for column in ("run", "started", "phase", "model version", "attempts", "GPU-h", "cost", "retries", ""):
        view.add_column(
            column, justify="right" if column in ("attempts", "GPU-h", "cost", "retries") else "left"
        )
    largest = max(ledger.totals()["cost"] for ledger in chosen)
    for ledger in chosen:
        totals = ledger.totals()
        version = f"{ledger.model['name']} v{ledger.model['version']}" if ledger.model else ""
        retried = f" ({totals['retried_attempts']} retried)" if totals["retried_attempts"] else ""
        view.add_row(
            ledger.run, ledger.started_at.replace("T", " ").rstrip("Z"), ledger.phase, version,
            f"{totals['attempts']}{retried}", f"{totals['gpu_hours']:.6f}", f"{totals['cost']:.6f}",
            f"{totals['retries_share']:.0%}", bar(totals["cost"], largest),
        )  # fmt: skip
    return view


def version_table(versions: list[dict], currency: str) -> Table:
    view = Table(title=f"Cost per model version ({currency})", title_justify="left")
    for column in ("model", "version", "runs", "GPU-h", "cost"):
        view.add_column(column, justify="right" if column in ("runs", "GPU-h", "cost") else "left")
    for entry in versions:
        view.add_row(
            entry["model"], entry["version"], str(len(entry["runs"])), f"{entry['gpu_hours']:.6f}",
            f"{entry['cost']:.6f}",
        )  # fmt: skip
    return view


def one_ledger(run: str | None, cluster: bool, settings) -> tuple[Ledger, list[Ledger]]:
    """A local run's ledger (its cost.json, or made now), or a cluster run's from its Workflow's status
    with those of the Workflows it started (a drift check's retrain)."""
    if not run:
        raise BadInput("--cluster: name the Workflow with --run NAME")
    if cluster:
        from workflows.cluster.child_ledger import fetch_family
        from workflows.cluster.client import ArgoServer

        found = fetch_family(ArgoServer(settings), run, settings)
        if found is None:
            raise BadInput(f"--run {run!r}: no such Workflow in namespace {settings.namespace}")
        return found
    from workflows.local.ledger import local_ledger, read_cost

    run_dir = Path(settings.runs_root) / run
    if not (run_dir / "run.json").exists():
        raise BadInput(f"--run {run!r}: no local run of that name under {settings.runs_root}")
    return read_cost(run_dir) or local_ledger(run_dir, settings), []


def show_run(ledger: Ledger, as_json: bool, started: list[Ledger] | None = None) -> None:
    """Every attempt of one run, its billed hours and cost, retried and preempted ones marked; then the
    runs it started, each with this one's cost in what its model cost."""
    if as_json:
        shown = ledger.to_json() | ({"started": [child.to_json() for child in started]} if started else {})
        print(json.dumps(shown, indent=2))
        return
    currency = ledger.prices.get("currency", "USD")
    view = Table(
        title=f"{ledger.run} ({ledger.where}, {ledger.phase}): cost per attempt, {currency}",
        title_justify="left",
    )
    for column in (
        "step",
        "attempt",
        "capacity",
        "wall s",
        "CPU s used",
        "vCPU-h",
        "GiB-h",
        "GPU-h",
        "cost",
        "",
    ):
        view.add_column(column, justify="left" if column in ("step", "capacity", "") else "right")
    for line in ledger.lines:
        marks = ", ".join(
            word for word, on in (("retried", line.retried), ("preempted", line.preempted)) if on
        )
        used = "" if line.cpu_seconds is None else f"{line.cpu_seconds:.1f}"
        view.add_row(
            line.step, str(line.attempt), line.capacity, f"{line.wall_seconds:.1f}", used,
            f"{line.vcpu_seconds / 3600:.6f}", f"{line.gib_seconds / 3600:.6f}", f"{line.gpu_seconds / 3600:.6f}",
            f"{line.cost:.6f}", marks,
        )  # fmt: skip
    out = Console()
    out.print(view)
    totals = ledger.totals()
    out.print(
        f"total: {money(totals['cost'], ledger)}; retries {money(totals['retries_cost'], ledger)} "
        f"({totals['retries_share']:.0%}); prices: {json.dumps(ledger.prices)}",
        highlight=False,
        soft_wrap=True,
    )
    for child in started or []:
        show_run(child, False)
        what = money(child.totals()["model_cost"], child)
        out.print(f"{child.run}: its model cost {what}, {ledger.run}'s included", highlight=False)
