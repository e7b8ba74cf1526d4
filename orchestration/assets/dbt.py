"""Every dbt model, seed and test as Dagster assets and asset checks, built with `dbt build` and
the run's as_of as a dbt var."""

import json

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.project import dbt_project
from orchestration.resources import DUCKDB_POOL, AsOfConfig, resolve_as_of
from orchestration.translator import AudienceWarehouseTranslator

translator = AudienceWarehouseTranslator()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=DUCKDB_POOL,
    name="dbt_models",
)
def dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: AsOfConfig):
    as_of = resolve_as_of(context, config)
    context.log.info("dbt build with as_of %s", as_of.isoformat())
    yield from dbt.cli(
        ["build", "--vars", json.dumps({"as_of": as_of.isoformat(sep=" ")})], context=context
    ).stream()
