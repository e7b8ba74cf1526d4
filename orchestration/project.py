"""The dbt project as Dagster sees it. `dagster dev` re-parses it on load; `make run` and CI build
the manifest ahead with `dbt parse` (the Makefile's `manifest` target)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtProject

from warehouse.context import PROJECT_DIR

dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
dbt_project.prepare_if_dev()


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's environment), so the pipeline runs the
    same dbt whether or not the environment is activated; else whatever `dbt` is on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")
