"""Every dbt model, seed and test as Dagster assets and asset checks, built with `dbt build` and
the run's as_of as a dbt var, in two steps: the core (staging to marts and segments), then what
must come after it — the segment catalog, which reads every segment, and (once the ML assets
exist) the models that read their scores. The split is by dbt selectors, never by model names."""

import json

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.project import dbt_project
from orchestration.resources import DUCKDB_POOL, AsOfConfig, resolve_as_of
from orchestration.translator import AudienceWarehouseTranslator

AFTER_CORE_SELECTION = "tag:segment_catalog+"

translator = AudienceWarehouseTranslator()


def _build(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: AsOfConfig):
    as_of = resolve_as_of(context, config)
    context.log.info("dbt build with as_of %s", as_of.isoformat())
    # buildable: a test runs only when all its parents are built in this step or before it, so a
    # subset (say, staging alone) never tests a model it did not build.
    args = [
        "build",
        "--indirect-selection",
        "buildable",
        "--vars",
        json.dumps({"as_of": as_of.isoformat(sep=" ")}),
    ]
    yield from dbt.cli(args, context=context).stream()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    exclude=AFTER_CORE_SELECTION,
    pool=DUCKDB_POOL,
    name="dbt_core",
)
def dbt_core(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: AsOfConfig):
    yield from _build(context, dbt, config)


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    select=AFTER_CORE_SELECTION,
    pool=DUCKDB_POOL,
    name="dbt_after_core",
)
def dbt_after_core(context: dg.AssetExecutionContext, dbt: DbtCliResource, config: AsOfConfig):
    yield from _build(context, dbt, config)
