"""Every dbt model, seed and test as Dagster assets and asset checks, built with `dbt build` and the
run's as_of in AW_AS_OF (a `--vars` would change dbt's partial-parse key every run), in two steps
split by a dbt selector (never by model names):

1. core: staging to marts and the segments that need no ML;
2. after_ml: what reads the ML tables (`source:ml+`) — the ML segments, the segment catalog,
   membership and history, the audiences — run after the ML assets. dbt sees every dependency
   (the catalog lists its segments), so Dagster needs no split beyond the ML boundary.

dbt unit tests are left out of both: they check the SQL against fixtures, not the data, so they
answer once per change of code (`make test`, or `make dbt ARGS="test --select test_type:unit"`),
not once per run — what dbt Labs advises for production builds."""

import dagster as dg
from dagster_dbt import dbt_assets

from orchestration.project import ProjectDbtResource, dbt_project
from orchestration.resources import DUCKDB_POOL, AsOfConfig, resolve_as_of
from orchestration.translator import AudienceWarehouseTranslator
from warehouse.context import AS_OF_ENV

AFTER_ML = "source:ml+"


class DbtStepConfig(AsOfConfig):
    """tests_of_rebuilt_models_only: run only the tests whose every parent this step builds (dbt's
    cautious indirect selection; a test that also reads a model built by an earlier step of the
    same run is left out too). A run that rebuilds part of the project between daily runs
    (triggered_audiences) must not test a rebuilt table against one kept from the last daily run:
    an order erased since is gone from the rebuilt orders but not from the kept order lines."""

    tests_of_rebuilt_models_only: bool = False


translator = AudienceWarehouseTranslator()


def _dbt_step(name: str, select: str, exclude: str | None) -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=translator,
        select=select,
        exclude=exclude,
        pool=DUCKDB_POOL,
        name=name,
    )
    def build(context: dg.AssetExecutionContext, dbt: ProjectDbtResource, config: DbtStepConfig):
        as_of = resolve_as_of(context, config)
        context.log.info("dbt build with as_of %s", as_of.isoformat())
        # buildable: a test runs when each of its parents is selected or upstream of what is, so a
        # subset (say, staging alone) never tests a model downstream of what it built.
        indirect = "cautious" if config.tests_of_rebuilt_models_only else "buildable"
        args = ["build", "--indirect-selection", indirect, "--exclude-resource-type", "unit_test"]
        invocation = dbt.cli(args, context=context, environment={AS_OF_ENV: as_of.isoformat(sep=" ")})
        yield from invocation.stream()
        dbt.keep_partial_parse(invocation)

    return build


dbt_core = _dbt_step("dbt_core", "fqn:*", AFTER_ML)
dbt_after_ml = _dbt_step("dbt_after_ml", AFTER_ML, None)
dbt_steps = [dbt_core, dbt_after_ml]
