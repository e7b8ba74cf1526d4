"""The one Definitions object: `dagster dev` loads it, `make run` executes its full_pipeline job."""

import multiprocessing
import os

import dagster as dg

from orchestration.assets.activation import (
    audience_respects_consent,
    audience_volume_guard,
    erasure_propagation,
    export_assets,
    holdout_analysis,
)
from orchestration.assets.backtest import backtest_results
from orchestration.assets.dbt import dbt_steps
from orchestration.assets.landing import landing_files
from orchestration.assets.ml import ml_assets
from orchestration.assets.publish import published_snapshot_asset
from orchestration.automation import (
    backtest,
    daily_refresh,
    daily_schedule,
    full_pipeline,
    landing_files_arrived,
    ml_training,
    triggered_audiences,
    weekly_training_schedule,
)
from orchestration.project import ProjectDbtResource, dbt_executable, dbt_project
from orchestration.resources import ModelStoreResource, WarehouseResource
from warehouse import context
from warehouse.publish import PUBLISHED_SCHEMAS

PUBLISHED_GROUPS = ("marts", "segments", "audiences", "ml")


def _published_upstream(assets: list[dg.AssetsDefinition]) -> list[dg.AssetKey]:
    """Every asset of the groups whose tables the snapshot copies."""
    return sorted(
        {
            key
            for asset in assets
            for key in asset.keys
            if asset.specs_by_key[key].group_name in PUBLISHED_GROUPS
        },
        key=lambda key: key.to_user_string(),
    )


# Dagster runs each step in a process of its own. Importing these definitions (dbt manifest,
# scikit-learn, and under `dagster dev` a `dbt parse`) takes 5 to 20 s, paid again by every step when
# processes are spawned; forked from a server that imported them once per run, a step starts in
# well under a second. `make run` executes in process and never uses this executor.
#
# Every step of every job opens the warehouse, so its pool admits one of them at a time anyway; the
# executor launches them one at a time itself. Left to the pool, a ready step that finds the slot
# taken asks again after a wait that grows by 10 % per try, up to 15 s (Dagster's backoff), so a
# step could sit idle for seconds after the slot was freed. The pool still serialises across runs.
STEPS_AT_A_TIME = 1
step_processes = (
    dg.multiprocess_executor.configured(
        {
            "max_concurrent": STEPS_AT_A_TIME,
            "start_method": {"forkserver": {"preload_modules": ["orchestration.definitions"]}},
        },
        name="step_processes",
    )
    if "forkserver" in multiprocessing.get_all_start_methods()
    else dg.multiprocess_executor.configured({"max_concurrent": STEPS_AT_A_TIME}, name="step_processes")
)

_assets = [
    landing_files,
    *dbt_steps,
    *ml_assets,
    erasure_propagation,
    *export_assets,
    holdout_analysis,
    backtest_results,
]
assert set(PUBLISHED_SCHEMAS) <= set(PUBLISHED_GROUPS), "every published schema has an asset group"


def _setting(name: str) -> dg.EnvVar | str:
    """Bound to the environment variable when it is set, so the UI shows where a resource's value
    comes from; empty otherwise, and the resource falls back to warehouse/context.py's default."""
    return dg.EnvVar(name) if os.environ.get(name) else ""


defs = dg.Definitions(
    assets=[*_assets, published_snapshot_asset(_published_upstream(_assets))],
    asset_checks=[audience_respects_consent, audience_volume_guard],
    jobs=[full_pipeline, daily_refresh, triggered_audiences, ml_training, backtest],
    schedules=[daily_schedule, weekly_training_schedule],
    sensors=[landing_files_arrived],
    executor=step_processes,
    resources={
        "dbt": ProjectDbtResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource(
            warehouse_path=_setting(context.WAREHOUSE_ENV), landing_dir=_setting(context.LANDING_ENV)
        ),
        "model_store": ModelStoreResource(models_dir=_setting(context.MODELS_ENV)),
    },
)
