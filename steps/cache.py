"""Which steps are cached, what each one's key reads, and the lookup and store around a step run.

Cached: ``ingest``, ``validate-data``, ``features`` (their results are functions of their inputs),
``train`` (its seed is always fixed, a parameter in the key, and the device it trains on is a part
too), and ``evaluate`` with the champion's version in its key (a new champion is a miss). Never
``register``, ``promote``, ``deploy``, ``notify``: they change the outside world. ``--cache false``
(the workflow parameter ``cache``) or ``MLOPS_CACHE=off`` turns it off. A step stopped or failed
never reaches ``remember``: only a success is stored. The cache never fails a step: a storage
error in a lookup or a store is logged and the step runs (or ends) as it would without it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from steps import cache_index, cache_key, storage
from steps.contract import MESSAGE_FILE, log, step_folder
from steps.errors import BadSetting, StepError

# Each cached step, and the earlier steps of the run whose folders it reads.
INPUTS: dict[str, tuple[str, ...]] = {
    "ingest": (),
    "validate_data": ("ingest",),
    "features": ("ingest", "validate_data"),
    "train": ("ingest", "features"),
    "evaluate": ("ingest", "features", "train"),
}
CACHE_RECORD = "cache.json"
OFF = {"off", "false", "0", "no"}
ON = {"on", "true", "1", "yes", ""}


def enabled_by_env() -> bool:
    value = os.environ.get("MLOPS_CACHE", "").strip().lower()
    if value not in OFF | ON:
        raise BadSetting(f"MLOPS_CACHE: {value!r} is neither on nor off")
    return value not in OFF


def visible_gpu() -> bool:
    """Whether ``--device auto`` trains on a GPU, without importing torch (1.4 s): a device node and
    not hidden by CUDA_VISIBLE_DEVICES."""
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1")
    return not hidden and any(Path("/dev").glob("nvidia[0-9]*"))


def extra_parts(step: str, params: Any, settings: Any) -> dict[str, Any]:
    """What else a result depends on: the device train runs on; the champion evaluate compares with."""
    if step == "train":
        return {"device": params.device if params.device != "auto" else ("cuda" if visible_gpu() else "cpu")}
    if step == "evaluate":
        from steps.evaluate import find_champion
        from steps.tracking import connect, tracking_errors

        with tracking_errors("looking up the champion for the cache key"):
            champion = find_champion(connect(settings), params.model_name or settings.model_name)
        return {"champion_version": str(champion.version) if champion is not None else None}
    return {}


def input_parts(step: str, params: Any, settings: Any) -> dict[str, Any]:
    """The content of what the step reads: the data for ingest, earlier steps' folders for the rest."""
    if step == "ingest":
        return {"data": cache_key.data_content(params.data_uri or settings.data_uri)}
    return {
        earlier: cache_key.folder_content(step_folder(params.run_dir, earlier)) for earlier in INPUTS[step]
    }


def settings_read(step: str, params: Any, settings: Any) -> dict[str, Any]:
    """The settings a step uses that change its result, as it uses them: a flag given wins over its
    setting, so the setting is then no part of the key (where a step writes is never one)."""
    if step == "ingest":
        return {
            "data_uri": params.data_uri or settings.data_uri,
            "target_column": params.target_column or settings.target_column,
            "allowed_data_prefixes": settings.allowed_data_prefixes,
        }
    if step == "validate_data":
        return {
            "target_column": params.target_column or settings.target_column,
            "feature_columns": params.feature_columns or settings.feature_columns,
        }
    if step == "train":
        return {"experiment": params.experiment or settings.experiment, "tracking_uri": settings.tracking_uri}
    if step == "evaluate":
        return {"model_name": params.model_name or settings.model_name, "tracking_uri": settings.tracking_uri}
    return {}


def key_parts(step: str, params: Any, settings: Any) -> dict[str, Any]:
    read = settings_read(step, params, settings)
    return cache_key.step_key_parts(
        step, params, read, input_parts(step, params, settings), extra_parts(step, params, settings)
    )


@dataclass
class CachedRun:
    """One cacheable step run: its key, and the entry a lookup found (a hit) or None (a miss)."""

    step: str
    params: Any
    settings: Any
    root: str
    parts: dict[str, Any]
    key: str
    entry: dict[str, Any] | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def folder(self) -> str:
        return step_folder(self.params.run_dir, self.step)

    def remember(self, result: dict[str, Any], outputs_dir: Path) -> None:
        """After a success: store a miss's outputs, and record in the step folder what the cache did."""
        try:
            if self.entry is None:
                if input_parts(self.step, self.params, self.settings) != self.parts["inputs"]:
                    log(self.step, "cache: inputs changed while the step ran; not stored")
                else:
                    self.notes["stored"] = cache_index.store(
                        self.root, self.step, self.key, self.parts, self.folder, result
                    )
            record = {"hit": self.entry is not None, "key": self.key, "parts": self.parts, "at": time.time()}
            record |= self.notes
            if self.entry is not None:
                record |= {"from_run": self.entry.get("run_dir"), "entry_created": self.entry.get("created")}
                outputs_dir.mkdir(parents=True, exist_ok=True)
                (outputs_dir / MESSAGE_FILE).write_text(f"cached (key {self.key[:12]})")
            storage.write_json(storage.join(self.folder, CACHE_RECORD), record)
        except Exception as exc:  # the step succeeded: a cache that cannot be written changes nothing of it
            log(self.step, f"cache: not stored: {type(exc).__name__}: {exc}")


def before(step: str, params: Any, settings: Any) -> CachedRun | None:
    """The step's cache run, its entry restored when the key is a hit; None when not cached."""
    if step not in INPUTS or not getattr(params, "cache", True) or not enabled_by_env():
        return None
    started = time.perf_counter()
    try:
        parts = key_parts(step, params, settings)
        run = CachedRun(step, params, settings, cache_index.cache_root(settings.storage_root), parts, "")
        run.key = cache_key.key_of(parts)
        run.entry = cache_index.lookup(run.root, step, run.key)
        if run.entry is not None:
            cache_index.restore(run.entry, run.folder)
            log(step, f"cached: key {run.key[:12]}, outputs of {run.entry.get('run_dir')}")
        run.notes["lookup_seconds"] = round(
            time.perf_counter() - started, 4
        )  # the key, the check, the restore
        return run
    except StepError as exc:
        log(step, f"cache: not used: {exc}")
        return None
