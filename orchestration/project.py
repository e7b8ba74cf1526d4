"""The dbt project as Dagster sees it. `dagster dev` re-parses it on load; `make run` and CI build
the manifest ahead with `dbt parse` (the Makefile's `manifest` target)."""

from __future__ import annotations

from dagster_dbt import DbtProject

from landing.contract import PROJECT_DIR

dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
dbt_project.prepare_if_dev()
