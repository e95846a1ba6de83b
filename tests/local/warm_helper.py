"""A stand-in step for the warm starter's tests: ``python -m tests.local.warm_helper ACTION ...``."""

import os
import sys
import tempfile
import time

if __name__ == "__main__":
    action, *rest = sys.argv[1:]
    print(
        f"out: cwd={os.getcwd()} env={os.environ.get('HELPER_VALUE')} session={os.getsid(0) == os.getpid()}"
    )
    print("err: to stderr", file=sys.stderr)
    if action == "sleep":
        time.sleep(float(rest[0]))
    elif action == "exit":
        sys.exit(int(rest[0]))
    elif action == "tempdir":
        print(f"tempdir={tempfile.gettempdir()}")
    elif action == "imported":  # what the starter had imported when it forked this process
        print(" ".join(f"{name}={name in sys.modules}" for name in rest))
    elif action == "distributions":  # MLflow's map of installed distributions, built by the starter
        from mlflow.utils import requirements_utils

        print(f"mapped={requirements_utils._MODULES_TO_PACKAGES is not None}")
    elif action == "schema-head":  # MLflow's newest schema revision, as the starter left it and fresh
        from alembic.script import ScriptDirectory
        from mlflow.store.db import utils

        remembered = utils._get_latest_schema_revision
        fresh = ScriptDirectory.from_config(utils._get_alembic_config(db_url="")).get_heads()
        print(f"remembered={remembered.cache_info().currsize} same={[remembered()] == fresh}")
        from mlflow.tracking._model_registry import utils as registry

        print(f"store_registry={registry._model_registry_store_registry is not None}")
    elif action == "raise":
        raise RuntimeError("boom")
