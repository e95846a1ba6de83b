"""retrain_data: what a drift-started retrain learns from (the champion's training data plus the window)."""

from __future__ import annotations

import pandas as pd
import pytest

from steps.errors import BadInput
from steps.retrain_data import REMEDY, RetrainDataParams, combine, retrain_data
from tests.conftest import local_env, run_step
from workflows.local.sample_data import generate, write_partitions
from workflows.settings import Settings

MODEL = "retrain-data-test"


def one_class_window(rows: int, label: int = 1) -> pd.DataFrame:
    """Rows of a drifted window that holds one class only (a window of fault data)."""
    frame = generate(rows * 40, seed=5, drift=1.0, start="2026-04-01", days=7)
    return frame[frame["target"] == label].head(rows).reset_index(drop=True)


def test_combine_appends_the_window_and_keeps_each_row_once():
    reference = generate(600, seed=3)  # carries replayed rows, as feeds do
    window = one_class_window(50)
    overlap = reference.iloc[100:110]  # the window repeats rows the champion was trained on
    current = pd.concat([window, overlap], ignore_index=True)[list(reversed(reference.columns))]

    combined, dropped = combine(reference, current, "ref/", "cur/")

    assert list(combined.columns) == list(reference.columns)
    assert not combined.duplicated().any()
    expected = pd.concat([reference, window], ignore_index=True).drop_duplicates(ignore_index=True)
    pd.testing.assert_frame_equal(combined, expected)
    assert dropped == reference.duplicated().sum() + len(overlap) > len(overlap)
    assert combined["target"].nunique() == 2 and set(window["target"]) == {1}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns=["amount"]), "column 'amount': in the champion's training data (ref/)"),
        (lambda f: f.assign(channel="web"), "column 'channel': in the current window (cur/)"),
        (
            lambda f: f.assign(hour=f["hour"].astype(str) + "h"),
            "column 'hour': text values in the current window (cur/) where the champion's training data (ref/) holds number values",
        ),
    ],
)
def test_combine_refuses_a_window_of_another_shape(change, message):
    reference = generate(300, seed=3)
    with pytest.raises(BadInput) as refused:
        combine(reference, change(one_class_window(20)), "ref/", "cur/")
    assert str(refused.value).startswith(message) and str(refused.value).endswith(REMEDY)


# --- the step against MLflow on sqlite: its refusals as a function, its contract as a subprocess ---


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    """Version 1 (the champion) trained on data its lineage names; version 2's data is gone; version 3
    has no lineage tag. A one-class window, and the step's settings."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("retrain-data")
    env = local_env(root) | {"MLOPS_MODEL_NAME": MODEL}
    reference = generate(600, seed=3)
    write_partitions(reference, str(root / "training-data"), 2)
    window_uri = root / "window" / "current.parquet"
    window_uri.parent.mkdir()
    one_class_window(40).to_parquet(window_uri, index=False)
    client = MlflowClient(env["MLFLOW_TRACKING_URI"])
    client.create_registered_model(MODEL)
    for data in (root / "training-data", root / "gone", None):
        client.create_model_version(
            MODEL, source=str(root / "model"), tags={"mlops.data_uri": str(data)} if data else {}
        )
    client.set_registered_model_alias(MODEL, "champion", "1")
    settings = Settings(storage_root=str(root / ".mlops"), model_name=MODEL)
    return {"env": env, "settings": settings, "window": str(window_uri), "reference": reference, "root": root}


def assemble(setup: dict, run: str, *args: str):
    run_dir = setup["root"] / run
    return run_step(
        "retrain_data", "--run-dir", str(run_dir), "--current-uri", setup["window"], *args, env=setup["env"]
    )


def test_by_default_the_retrain_learns_from_the_champions_data_plus_the_window(setup):
    done = assemble(setup, "default")
    assert done.returncode == 0, done.stderr
    written = setup["root"] / "default" / "retrain-data" / "retrain.parquet"
    assert done.outputs["uri"] == done.result["uri"] == str(written)
    assert sorted(p.name for p in written.parent.iterdir()) == [
        "result.json",
        "retrain.parquet",
        "usage.json",
    ]
    data = pd.read_parquet(written)
    window = pd.read_parquet(setup["window"])
    assert int(done.outputs["rows"]) == len(data) == len(setup["reference"].drop_duplicates()) + len(window)
    assert done.result["source"] == "reference+current" and done.result["current_rows"] == len(window)
    assert done.result["reference_uri"] == str(setup["root"] / "training-data")
    assert data["target"].nunique() == 2


def test_current_or_a_uri_is_passed_on_as_it_is(setup):
    alone = assemble(setup, "alone", "--retrain-data", "current")
    assert alone.returncode == 0, alone.stderr
    assert alone.outputs["uri"] == setup["window"] and alone.outputs["rows"] == ""
    given = assemble(setup, "given", "--retrain-data", str(setup["root"] / "training-data"))
    assert given.returncode == 0, given.stderr
    assert given.outputs["uri"] == str(setup["root"] / "training-data") and given.result["source"] == "uri"
    assert not (setup["root"] / "given" / "retrain-data" / "retrain.parquet").exists()


def test_a_value_that_is_no_choice_and_no_data_is_refused_by_name(setup):
    run_dir = setup["root"] / "typo"
    params = RetrainDataParams(
        run_dir=str(run_dir), current_uri=setup["window"], retrain_data="referense+current"
    )
    with pytest.raises(
        BadInput, match=r"^parameter --retrain-data: 'referense\+current' is not reference\+current"
    ):
        retrain_data(params, setup["settings"])
    assert not run_dir.exists()
    params = RetrainDataParams(run_dir=str(run_dir), current_uri=setup["window"], retrain_data=" ")
    with pytest.raises(BadInput, match=r"^parameter --retrain-data: empty"):
        retrain_data(params, setup["settings"])


def test_when_the_champions_data_cannot_be_found_it_exits_65_in_one_line_with_the_remedy(setup):
    cases = [
        (("--model-name", "nobody"), "model 'nobody' has no champion"),
        (("--champion-version", "3"), f"{MODEL} version 3 has no mlops.data_uri lineage tag"),
        (
            ("--champion-version", "2"),
            f"{MODEL} version 2's training data (its mlops.data_uri) cannot be read",
        ),
    ]
    for number, (args, message) in enumerate(cases):
        done = assemble(setup, f"refused-{number}", *args)
        assert done.returncode == 65, done.stderr
        errors = done.error_lines()
        assert len(errors) == 1 and errors[0].startswith(f"retrain_data: error: {message}"), done.stderr
        assert errors[0].endswith(REMEDY)
        assert not (setup["root"] / f"refused-{number}" / "retrain-data").exists()


def test_the_drift_workflow_defaults_to_reference_plus_current():
    import yaml

    from steps.retrain_data import REFERENCE_AND_CURRENT
    from workflows.pipelines.compile import MANIFESTS_DIR

    spec = yaml.safe_load((MANIFESTS_DIR / "drift.yaml").read_text())["spec"]
    defaults = {p["name"]: p["value"] for p in spec["arguments"]["parameters"]}
    assert defaults["retrain-data"] == REFERENCE_AND_CURRENT
