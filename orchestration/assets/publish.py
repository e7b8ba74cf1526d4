"""The read-only snapshot BI tools open (warehouse/publish.py), refreshed at the end of a run."""

import dagster as dg

from orchestration.project import dbt_project
from orchestration.resources import DUCKDB_POOL, WarehouseResource
from warehouse import context as run_context
from warehouse.documentation import PYTHON_TABLES, manifest_documentation
from warehouse.publish import PUBLISHED_SCHEMAS, publish_snapshot, published_schemas

PUBLISHED = dg.AssetKey(["published", "warehouse_snapshot"])


def published_snapshot_asset(upstream: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """Depends on every asset of the published schemas, so it runs last and only when they all
    materialized in the run (a failed step or a failed blocking check stops it)."""

    @dg.asset(
        key=PUBLISHED,
        deps=upstream,
        group_name="published",
        pool=DUCKDB_POOL,
        kinds={"duckdb"},
        description=f"Read-only copy of the schemas {', '.join(PUBLISHED_SCHEMAS)} for BI tools "
        "(AW_PUBLISHED_PATH, default published/<warehouse file> beside the warehouse), swapped in "
        "atomically, with snapshot_info (as_of, run id, code version, landing files), every dbt "
        "description as a table or column comment, and the same tables as Parquet in parquet/ "
        "beside it (with manifest.json); the restricted schema (direct identifiers) only when "
        "AW_PUBLISH_IDENTIFIERS is set.",
    )
    def warehouse_snapshot(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        snapshot = publish_snapshot(
            warehouse.path,
            run_context.published_path(warehouse.path),
            published_schemas(run_context.publish_identifiers()),
            run_id=context.run.run_id,
            documentation={**manifest_documentation(dbt_project.manifest_path), **PYTHON_TABLES},
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(snapshot.path)),
                "parquet": dg.MetadataValue.path(str(snapshot.parquet)),
                "tables": len(snapshot.tables),
                "rows": snapshot.rows,
                "snapshot_bytes": snapshot.snapshot_bytes,
                "parquet_bytes": snapshot.parquet_bytes,
                "published_at": snapshot.published_at.isoformat(),
            }
        )

    return warehouse_snapshot
