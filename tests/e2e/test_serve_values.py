"""The serving app checks values against what the model records, and still serves models logged
before that record existed (checking what their signature says).

Real MLflow models, saved and loaded back as ``mlops serve`` loads them, behind the app
``mlops serve`` runs."""

from __future__ import annotations

import mlflow
import numpy as np
import pytest
from fastapi.testclient import TestClient
from mlflow.models import ModelSignature
from mlflow.types import DataType
from mlflow.types.schema import AnyType, ColSpec, Schema

from workflows.local.serve import create_app

pytestmark = pytest.mark.e2e


class Half(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return np.full(len(model_input), 0.5)


def logged(tmp_path, metadata: dict | None) -> TestClient:
    """A model typed as ``train`` types it (numbers Any, categories strings), saved and loaded back."""
    signature = ModelSignature(
        inputs=Schema([ColSpec(AnyType(), "amount"), ColSpec(DataType.string, "device")]),
        outputs=Schema([ColSpec(DataType.double, "probability")]),
    )
    path = tmp_path / "model"
    mlflow.pyfunc.save_model(
        path, python_model=Half(), signature=signature, metadata=metadata, pip_requirements=["mlflow"]
    )
    return TestClient(create_app(mlflow.pyfunc.load_model(str(path)), "m", "1", "champion"))


def score(client: TestClient, **row) -> tuple[int, dict]:
    response = client.post("/invocations", json={"dataframe_records": [row]})
    return response.status_code, response.json()


def test_a_model_with_the_record_refuses_wrong_types_and_unseen_nulls(tmp_path):
    client = logged(tmp_path, {"mlops_inputs": {"numeric": ["amount"], "nullable": ["device"]}})
    assert score(client, amount=3.5, device="pos") == (
        200,
        {"predictions": [0.5], "model": "m", "version": "1"},
    )
    assert score(client, amount=3.5, device=None)[0] == 200
    assert score(client, amount="abc", device="pos") == (
        422,
        {"error": "column 'amount' takes numbers: got a string ('abc') in row 0"},
    )
    assert score(client, amount=None, device="pos") == (
        422,
        {"error": "column 'amount' takes numbers and had no missing values in training: got null in row 0"},
    )
    assert score(client, amount=[1], device="pos")[1] == {
        "error": "column 'amount' takes numbers: got an array in row 0"
    }
    assert score(client, amount=True, device="pos")[0] == 200  # a column of booleans is numeric in training
    response = client.post(
        "/invocations",
        json={"dataframe_records": [{"amount": 1, "device": "pos"}, {"amount": 2, "device": 7}]},
    )
    assert (response.status_code, response.json()) == (
        422,
        {"error": "column 'device' takes strings: got a number (7) in row 1"},
    )
    infinite = client.post(
        "/invocations",
        content=b'{"dataframe_records": [{"amount": Infinity, "device": "pos"}]}',
        headers={"Content-Type": "application/json"},
    )
    assert (infinite.status_code, infinite.json()) == (
        422,
        {"error": "column 'amount' takes finite numbers: got an infinite number in row 0"},
    )


def test_a_model_logged_before_the_record_is_served_checking_what_its_signature_says(tmp_path):
    client = logged(tmp_path, None)
    assert score(client, amount=3.5, device="pos")[0] == 200
    assert score(client, amount=None, device=None)[0] == 200  # which columns had nulls is not known
    assert score(client, amount=3.5, device=5) == (
        422,
        {"error": "column 'device' takes strings: got a number (5) in row 0"},
    )
