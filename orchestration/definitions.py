"""The one Definitions object: `dagster dev` loads it, `make run` executes its full_pipeline job."""

from __future__ import annotations

import dagster as dg
from dagster_dbt import DbtCliResource

from orchestration.assets.dbt import dbt_after_core, dbt_core
from orchestration.assets.landing import landing_files
from orchestration.project import dbt_project
from orchestration.resources import WarehouseResource

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Landing files → staging and quarantine → marts.",
)

defs = dg.Definitions(
    assets=[landing_files, dbt_core, dbt_after_core],
    jobs=[full_pipeline],
    resources={
        "dbt": DbtCliResource(project_dir=dbt_project),
        "warehouse": WarehouseResource(),
    },
)
