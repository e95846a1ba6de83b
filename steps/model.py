"""The served model: preprocessing and network in one MLflow pyfunc that scores raw columns."""

from __future__ import annotations

import mlflow.pyfunc
import numpy as np
import pandas as pd

from steps.errors import BadInput
from steps.schema import listed


class TabularClassifier(mlflow.pyfunc.PythonModel):
    """Takes the raw feature columns (a DataFrame), returns the probability of the positive class."""

    def load_context(self, context) -> None:
        import joblib
        import torch

        from steps.network import build_mlp

        self.preprocessor = joblib.load(context.artifacts["preprocessor"])
        bundle = torch.load(context.artifacts["network"], map_location="cpu", weights_only=True)
        self.network = build_mlp(bundle["input_dim"], bundle["hidden_sizes"], bundle["dropout"])
        self.network.load_state_dict(bundle["state_dict"])
        self.network.eval()

    def predict(self, context, model_input: pd.DataFrame, params=None) -> np.ndarray:
        import torch

        features = self.preprocessor.transform(model_input).astype(np.float32, copy=False)
        with torch.inference_mode():
            logits = self.network(torch.from_numpy(features)).squeeze(1)
        return torch.sigmoid(logits).numpy().astype(np.float64)


def probabilities(model: mlflow.pyfunc.PyFuncModel, frame: pd.DataFrame) -> np.ndarray:
    """The positive class's probability for each row, from a loaded pyfunc, on its own input columns.

    This project's model is called directly: it coerces its columns itself, and MLflow's per-value
    check of its ``Any``-typed inputs costs about a minute per million rows. Any other pyfunc goes
    through MLflow's ``predict``."""
    schema = model.metadata.get_input_schema()
    columns = schema.input_names() if schema is not None else list(frame.columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:  # a caller that knows the model's name says this better (steps.schema); never a KeyError
        raise BadInput(f"the model was trained on other columns: missing {listed(missing)}")
    try:
        inner = model.unwrap_python_model()
    except Exception:  # not a python_function model of ours: MLflow's flavors raise differently
        inner = None
    if isinstance(inner, TabularClassifier):
        return np.asarray(inner.predict(None, frame[columns]), dtype=float)
    return np.asarray(model.predict(frame[columns]), dtype=float)
