"""Local serving: the registry's model behind a small HTTP API on loopback.

``GET /health`` names the model and version; ``POST /invocations`` takes raw columns (MLflow's
``dataframe_split`` or ``dataframe_records``, or KServe-style ``instances``) and returns
``{"predictions": [...]}``; a malformed body is a 400 and a missing column a 422, each naming
what is wrong (rows of another dataset in the sentence ``evaluate`` and ``drift`` use). Values are
checked against the model's inputs before scoring: a value of the wrong type (text for a number,
a number for a category) or a null in a column that had no missing values in training is a 422
naming the column, the row and what was sent, never a prediction from an imputed value. Models
logged without that record (``mlops_inputs`` in their metadata) are checked on what their
signature says. ``GET /metrics`` is Prometheus text (predictions, latency histogram, errors).
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from steps.schema import ColumnComparison, compare_columns

ACCEPTED = "a JSON object with 'dataframe_split', 'dataframe_records' or 'instances'"
# Rows of another dataset than the served model's: what the client can do.
SERVE_REMEDY = "send rows with its columns, or serve another model (mlops serve --model NAME)"


class BadRequest(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def to_frame(body: Any) -> pd.DataFrame:
    """The request's rows as a DataFrame, or a BadRequest saying why not."""
    if isinstance(body, dict) and "dataframe_split" in body:
        split = body["dataframe_split"]
        if not isinstance(split, dict) or "columns" not in split or "data" not in split:
            raise BadRequest(400, "'dataframe_split' needs 'columns' and 'data'")
        frame = pd.DataFrame(split["data"], columns=split["columns"])
    elif isinstance(body, dict) and ("dataframe_records" in body or "instances" in body):
        records = body.get("dataframe_records", body.get("instances"))
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise BadRequest(400, "'dataframe_records'/'instances' must be a list of objects (one per row)")
        frame = pd.DataFrame.from_records(records)
    else:
        raise BadRequest(400, f"expected {ACCEPTED}")
    if frame.empty:
        raise BadRequest(400, "no rows to score")
    return frame


def model_columns(frame: pd.DataFrame, columns: list[str], found: ColumnComparison) -> pd.DataFrame:
    """The rows' columns the model takes; rows of another dataset are refused in the sentence every
    step uses (``steps.schema``), a dropped column by its name."""
    if found.other_columns:
        raise BadRequest(422, found.message(SERVE_REMEDY))
    if found.missing:
        raise BadRequest(422, f"missing column '{found.missing[0]}' (the model needs: {', '.join(columns)})")
    return frame[columns]


@dataclass(frozen=True)
class ColumnRule:
    """What one input column takes: numbers, strings or anything (None: not known), and null or not."""

    kind: Literal["number", "string"] | None
    nullable: bool


def input_rules(model: Any) -> dict[str, ColumnRule]:
    """Per input column, what a request may send: from the ``mlops_inputs`` metadata ``train`` records
    (numeric columns, columns with missing values in train), else from the signature's types alone
    (any column may then be null)."""
    from mlflow.types import DataType

    schema = model.metadata.get_input_schema()
    if schema is None:
        return {}
    recorded = (getattr(model.metadata, "metadata", None) or {}).get("mlops_inputs") or {}
    numeric = set(recorded.get("numeric", []))
    nullable = recorded.get("nullable")
    rules = {}
    for spec in schema.inputs:
        if spec.name in numeric:
            kind = "number"
        elif spec.type == DataType.string:
            kind = "string"
        elif spec.type in (DataType.double, DataType.float, DataType.long, DataType.integer):
            kind = "number"
        else:
            kind = None
        rules[spec.name] = ColumnRule(kind, nullable is None or spec.name in nullable)
    return rules


def json_type(value: Any) -> str:
    """A value's type as the client wrote it in JSON."""
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    if isinstance(value, bool | np.bool_):
        return f"a boolean ({str(bool(value)).lower()})"
    if isinstance(value, numbers.Number):
        return f"a number ({value})"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def is_number(value: Any) -> bool:
    """A JSON number (or boolean: numeric columns of booleans are numbers to the model)."""
    return isinstance(value, numbers.Number | np.bool_)


def first_of_other_type(values: pd.Series, missing: np.ndarray, kind: str) -> int | None:
    """The row of the first value present that is not of ``kind`` (``number`` or ``string``)."""
    if kind == "number" and (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        return None  # a column of numbers: nothing to look at one by one
    accepts = is_number if kind == "number" else (lambda value: isinstance(value, str))
    for row, value in enumerate(values.to_numpy()):
        if not missing[row] and not accepts(value):
            return row
    return None


def check_values(frame: pd.DataFrame, rules: dict[str, ColumnRule]) -> None:
    """Refuse (422) the first value of a wrong type, or a null where training had none, by column and row."""
    for column, rule in rules.items():
        if column not in frame.columns:
            continue
        values = frame[column]
        missing = values.isna().to_numpy()
        takes = {"number": "numbers", "string": "strings", None: "values"}[rule.kind]
        if not rule.nullable and missing.any():
            raise BadRequest(
                422,
                f"column {column!r} takes {takes} and had no missing values in training:"
                f" got null in row {int(missing.argmax())}",
            )
        if rule.kind is None:
            continue
        row = first_of_other_type(values, missing, rule.kind)
        if row is not None:
            raise BadRequest(
                422, f"column {column!r} takes {takes}: got {json_type(values.iat[row])} in row {row}"
            )
        if rule.kind == "number":
            infinite = np.isinf(values.to_numpy(dtype=float, na_value=np.nan))
            if infinite.any():
                row = int(infinite.argmax())
                raise BadRequest(
                    422, f"column {column!r} takes finite numbers: got an infinite number in row {row}"
                )


def create_app(
    model: Any, model_name: str, version: str, alias: str, ignore_columns: Iterable[str] = ()
) -> FastAPI:
    """The app serving ``model``; ``ignore_columns`` (the label, the time column) are never called
    extra when rows of another shape are refused."""
    registry = CollectorRegistry()
    predictions = Counter("predictions", "Rows scored", ["model", "version"], registry=registry)
    errors = Counter(
        "prediction_errors", "Requests refused or failed", ["model", "version", "kind"], registry=registry
    )
    latency = Histogram(
        "prediction_latency_seconds", "Time to score one request", ["model", "version"], registry=registry
    )
    schema = model.metadata.get_input_schema()
    columns = schema.input_names() if schema is not None else []
    rules = input_rules(model)

    app = FastAPI(title=f"{model_name} v{version}")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "model": model_name, "version": version, "alias": alias}

    @app.post("/invocations")
    async def invocations(request: Request) -> JSONResponse:
        started = time.perf_counter()
        try:
            try:
                body = await request.json()
            except ValueError:
                raise BadRequest(400, "the body is not valid JSON") from None
            rows = to_frame(body)
            found = compare_columns(
                model_name, version, columns, rows.columns, alias=alias, ignore=ignore_columns
            )
            frame = model_columns(rows, columns, found)
            check_values(frame, rules)
            scores = model.predict(frame)
        except BadRequest as exc:
            errors.labels(model_name, version, "bad_request").inc()
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except Exception as exc:  # a row the model cannot score: say so, count it, keep serving
            errors.labels(model_name, version, "scoring").inc()
            return JSONResponse(
                {"error": f"could not score the rows: {str(exc).splitlines()[0][:300]}"}, status_code=422
            )
        predictions.labels(model_name, version).inc(len(frame))
        latency.labels(model_name, version).observe(time.perf_counter() - started)
        return JSONResponse(
            {"predictions": [float(p) for p in scores], "model": model_name, "version": version}
        )

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
