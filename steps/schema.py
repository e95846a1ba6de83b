"""A registered model's input columns against the columns at hand, said the same way everywhere.

``evaluate``, ``promote``, ``drift`` and ``mlops serve`` each meet the same fact: the champion
was trained on columns the data in front of them lacks (a new dataset under the same model
name). They compare with ``compare_columns`` and state it with ``ColumnComparison.sentence``,
so a user reads one sentence whichever step found it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict

# How a run gets past a champion trained on other columns (the training workflow's parameters).
REMEDY = "use another model-name, or retrain with -p replace-incompatible-champion=true to replace it"
# Column names listed in the sentence before "(+N more)": one line, even for wide data.
LISTED = 6


def listed(columns: Sequence[str], limit: int = LISTED) -> str:
    """``'a', 'b', 'c' (+4 more)``."""
    shown = ", ".join(repr(str(c)) for c in columns[:limit])
    return shown + (f" (+{len(columns) - limit} more)" if len(columns) > limit else "")


class ColumnComparison(BaseModel):
    """Which of a model's input columns the data lacks (``missing``), and which of the data's
    columns the model was not trained on (``extra``)."""

    model_config = ConfigDict(frozen=True)

    model_name: str
    version: str
    alias: str = "champion"
    missing: list[str]
    extra: list[str]

    @property
    def compatible(self) -> bool:
        """The model can score the data: every column it was trained on is there."""
        return not self.missing

    @property
    def other_columns(self) -> bool:
        """Columns are both missing and extra: data of another shape (another dataset, renamed
        columns), not one column dropped from the data the model knows."""
        return bool(self.missing and self.extra)

    def sentence(self) -> str:
        """The fact, as every step states it: ``champion v3 of 'fraud' was trained on other columns:
        missing 'amount', 'hour'; extra 'mean_radius'``."""
        parts = [f"missing {listed(self.missing)}"] + ([f"extra {listed(self.extra)}"] if self.extra else [])
        return (
            f"{self.alias} v{self.version} of {self.model_name!r} was trained on other columns: "
            + "; ".join(parts)
        )

    def message(self, remedy: str = REMEDY) -> str:
        """The fact and what to do about it, as one line."""
        return f"{self.sentence()}; {remedy}"


def compare_columns(
    model_name: str,
    version: str,
    expected: Sequence[str],
    available: Iterable[str],
    *,
    alias: str = "champion",
    offered: Iterable[str] | None = None,
    ignore: Iterable[str] = (),
) -> ColumnComparison:
    """Compare a model's input columns (``expected``) with the data's (``available``). Extra are the
    columns of ``offered`` (default ``available``; e.g. a new model's inputs) the model was not
    trained on, except those in ``ignore`` (the label, the time column, the model's training data's
    other columns)."""
    available = [str(c) for c in available]
    offered = available if offered is None else [str(c) for c in offered]
    present, known, skipped = set(available), set(expected), {str(c) for c in ignore}
    return ColumnComparison(
        model_name=model_name,
        version=str(version),
        alias=alias,
        missing=[c for c in expected if c not in present],
        extra=[c for c in offered if c not in known and c not in skipped],
    )


def input_columns(model_uri: str) -> list[str] | None:
    """The input column names in a logged model's signature (None when it has no signature);
    reads the model's metadata only, not its weights."""
    from mlflow.models import get_model_info

    signature = get_model_info(model_uri).signature
    if signature is None or signature.inputs is None:
        return None
    return signature.inputs.input_names()
