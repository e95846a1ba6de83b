"""Suggest: draw a sweep's trials with Optuna, seeded, into the study every trial shares.

Reads the search space (``--search-space``, JSON or YAML; ``steps.sweep_space``), draws ``--trials``
trials with the TPE or random sampler seeded by ``--seed`` (the same seed draws the same trials)
into a new study (``steps.sweep_study``), and opens the sweep's MLflow parent run. Every trial is
drawn before any has run, so TPE draws from its prior (its startup phase); the pruner, not the
sampler, is what saves the time. Outputs, small enough for parameters: ``trials`` (ids and values)
and ``lanes``, the trials dealt round-robin into ``--parallelism`` lanes that the workflow runs side
by side, one trial at a time each (Argo cannot take a template's parallelism from a parameter).
Run again in the same run folder, it returns the trials it drew; a draw it did not finish is redrawn.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Literal

from pydantic import Field

from steps import storage
from steps.contract import StepParams, StepResult, earlier_result, log, run_step, step_folder
from steps.errors import BadInput
from steps.stopping import deferred
from steps.sweep_space import DEFAULT_SPACE, Space, read_space
from steps.sweep_study import study_name, study_storage

MLFLOW_RUN = "mlflow-run.json"
# Hyperparameters as train's flags name them, in the order a trial lists them.
HYPERPARAMETERS = ("lr", "batch-size", "hidden-sizes", "dropout", "weight-decay")
DEFAULTS = {"lr": 3e-3, "batch-size": 512, "hidden-sizes": "64,32", "dropout": 0.1, "weight-decay": 1e-5}


class SuggestParams(StepParams):
    """Draw the sweep's trials from the search space into the shared study."""

    search_space: str = Field(
        "",
        description=f"JSON or YAML: key -> value, [choices] or {{low, high, log}}; default {json.dumps(DEFAULT_SPACE)}",
    )
    trials: int = Field(16, ge=1, le=1000, description="how many trials to draw")
    seed: int = Field(42, ge=0, description="the sampler's seed: the same seed draws the same trials")
    sampler: Literal["tpe", "random"] = "tpe"
    pruner: Literal["median", "halving", "none"] = Field(
        "median", description="median, halving (asynchronous successive halving) or none"
    )
    parallelism: int = Field(4, ge=1, le=256, description="trials run at once: the number of lanes")
    experiment: str | None = Field(None, description="MLflow experiment; default MLOPS_EXPERIMENT")


class SuggestResult(StepResult):
    study: str
    parent_run_id: str
    epochs: int
    trials: list[dict[str, Any]]
    lanes: list[dict[str, Any]]


def rounded(key: str, value: Any) -> Any:
    """A drawn value as a trial trains with it and a person reads it: 4 significant digits."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


def draw(study, space: Space, trials: int) -> list[dict[str, Any]]:
    drawn = []
    for _ in range(trials):
        trial = study.ask(space.distributions)
        values = {
            key: rounded(key, trial.params.get(key, space.fixed.get(key, DEFAULTS[key])))
            for key in HYPERPARAMETERS
        }
        drawn.append({"id": trial.number, **values})
    return drawn


def lanes(trials: list[dict[str, Any]], parallelism: int) -> list[dict[str, Any]]:
    """Trials dealt round-robin into lanes: lane k runs trials k, k+n, k+2n... one after another."""
    count = min(parallelism, len(trials))
    return [{"lane": k, "trials": [t["id"] for t in trials[k::count]]} for k in range(count)]


def parent_run(params: SuggestParams, settings, name: str, space_text: str) -> str:
    """The sweep's MLflow parent run: the one a previous attempt created, or a new one."""
    from steps.tracking import as_params, connect, experiment_id, tracking_errors

    marker = storage.join(step_folder(params.run_dir, "suggest"), MLFLOW_RUN)
    if storage.exists(marker):
        return storage.read_json(marker)["run_id"]
    ingested = earlier_result(params.run_dir, "ingest")
    with tracking_errors("creating the sweep's parent run"):
        client = connect(settings)
        experiment = experiment_id(client, params.experiment or settings.experiment, settings)
        tags = {
            "mlops.step": "sweep",
            "mlops.sweep": name,
            "mlflow.runName": name,
            "mlops.data_fingerprint": ingested["fingerprint"],
            "mlops.data_uri": ingested["data_uri"],
            "mlops.run_dir": params.run_dir,
        }
        with deferred("creating the sweep's parent run"):  # a run without its marker would be made twice
            run = client.create_run(experiment, tags=tags)
            storage.write_json(marker, {"run_id": run.info.run_id})
        values = params.model_dump(include={"trials", "seed", "sampler", "pruner", "parallelism"})
        client.log_batch(run.info.run_id, params=as_params(values | {"search_space": space_text[:6000]}))
    return run.info.run_id


def suggest(params: SuggestParams, settings) -> SuggestResult:
    """Draw the trials (or return those this run folder's study already holds) and open the parent run."""
    import optuna

    space = read_space(params.search_space)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = study_storage(params.run_dir, settings)
    name = study_name(params.run_dir)
    existing = next((s for s in store.get_all_studies() if s.study_name == name), None)
    if existing is not None and existing.user_attrs.get("drawn") == params.trials:
        study = optuna.load_study(study_name=name, storage=store)
        if study.user_attrs.get("seed") != params.seed or study.user_attrs.get("sampler") != params.sampler:
            raise BadInput(f"{params.run_dir}: this run folder's sweep was drawn with other parameters")
        trials = study.user_attrs["trials"]
        log("suggest", f"study {name}: {len(trials)} trials drawn earlier in this run folder")
    else:
        if existing is not None:  # a draw stopped part-way: no trial has run, so draw again from the seed
            optuna.delete_study(study_name=name, storage=store)
        sampler = (optuna.samplers.TPESampler if params.sampler == "tpe" else optuna.samplers.RandomSampler)(
            seed=params.seed
        )
        study = optuna.create_study(study_name=name, storage=store, sampler=sampler, direction="maximize")
        trials = draw(study, space, params.trials)
        attrs = {
            "pruner": params.pruner,
            "warmup_epochs": 2,  # no trial is pruned on its first epoch alone
            "epochs": space.epochs,
            "seed": params.seed,
            "sampler": params.sampler,
            "trials": trials,
        }
        for key, value in attrs.items():
            study.set_user_attr(key, value)
        study.set_user_attr("drawn", params.trials)  # last: the draw is whole
        log("suggest", f"study {name}: drew {len(trials)} trials ({params.sampler}, seed {params.seed})")
    parent = parent_run(params, settings, name, params.search_space or json.dumps(DEFAULT_SPACE))
    return SuggestResult(
        study=name,
        parent_run_id=parent,
        epochs=space.epochs,
        trials=trials,
        lanes=lanes(trials, params.parallelism),
    )


def main(argv: list[str] | None = None) -> None:
    run_step("suggest", SuggestParams, suggest, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
