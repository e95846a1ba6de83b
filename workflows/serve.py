"""Local serving: the registry's model behind a small HTTP API on loopback.

``GET /health`` names the model and version; ``POST /invocations`` takes raw columns (MLflow's
``dataframe_split`` or ``dataframe_records``, or KServe-style ``instances``) and returns
``{"predictions": [...]}``; a malformed body is a 400 and a missing column a 422, each naming
what is wrong (rows of another dataset in the sentence ``evaluate`` and ``drift`` use); ``GET /metrics`` is Prometheus text (predictions, latency histogram, errors).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

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
