"""What the warm starter computes once for its MLflow steps, beyond importing MLflow.

Each process that opens MLflow's SQL store checks the database's schema against the newest revision
of MLflow's migrations, which alembic finds by loading all of MLflow's migration scripts (68 modules:
0.06 s in a forked step). The installed MLflow's newest revision cannot change while a run's starter
lives, so the starter asks once and its steps inherit the answer; the database's own revision is
still read, and checked, by each store that opens.
"""

from __future__ import annotations

import functools


def remember_schema_head() -> None:
    """Make MLflow's ``_get_latest_schema_revision`` ask alembic once per process, and ask it now."""
    from mlflow.store.db import utils

    if not hasattr(utils._get_latest_schema_revision, "cache_info"):  # once, however often called
        utils._get_latest_schema_revision = functools.cache(utils._get_latest_schema_revision)
    utils._get_latest_schema_revision()
