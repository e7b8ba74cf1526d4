"""The landing files as assets: one per contract table, upstream of the dbt sources. Materializing
them validates every file against the contract and registers the views dbt reads in place."""

import dagster as dg

from landing.contract import load_contract
from landing.files import LandingError
from landing.register import register_for_engine
from orchestration.resources import DUCKDB_POOL, WarehouseResource
from orchestration.translator import landing_asset_key

LANDING_TABLES = load_contract()
REJECTED_LINES_KEY = dg.AssetKey(["landing", "audit", "rejected_lines"])
LANDING_FILES_KEY = dg.AssetKey(["landing", "audit", "landing_files"])


def _table_specs() -> list[dg.AssetSpec]:
    return [
        dg.AssetSpec(
            landing_asset_key(table.source, table.table),
            group_name="landing",
            description=(
                f"Files under data/landing/{table.source}/ for {table.name} "
                f"({'required' if table.required else 'optional'}), exposed to dbt as the view "
                f"{table.schema}.{table.identifier}."
            ),
            kinds={"duckdb"},
            tags={"required": str(table.required).lower()},
        )
        for table in LANDING_TABLES
    ]


@dg.multi_asset(
    specs=[
        *_table_specs(),
        dg.AssetSpec(
            REJECTED_LINES_KEY,
            group_name="landing",
            description="Lines of landing files that could not be parsed; staging quarantines them.",
            kinds={"duckdb"},
        ),
        dg.AssetSpec(
            LANDING_FILES_KEY,
            group_name="landing",
            description="Every landing file read, with its signature and rejected line count.",
            kinds={"duckdb"},
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "no_malformed_lines",
            asset=landing_asset_key(table.source, table.table),
            description="Every line of the table's files parsed (rejected lines are quarantined, not lost).",
        )
        for table in LANDING_TABLES
    ]
    + [
        dg.AssetCheckSpec(
            "no_unclaimed_files",
            asset=LANDING_FILES_KEY,
            description="Every data file under the landing folder belongs to a contract table.",
        )
    ],
    pool=DUCKDB_POOL,
    name="landing_files",
)
def landing_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    try:
        report = register_for_engine(warehouse.path, warehouse.landing, LANDING_TABLES)
    except LandingError as error:
        raise dg.Failure(description=str(error)) from error

    total_rejected = 0
    for table_report in report.tables:
        key = landing_asset_key(table_report.table.source, table_report.table.table)
        total_rejected += table_report.rows_rejected
        yield dg.MaterializeResult(
            asset_key=key,
            data_version=dg.DataVersion(table_report.fingerprint),
            metadata={
                "files": len(table_report.files),
                "rows_parsed": table_report.rows_parsed,
                "lines_rejected": table_report.rows_rejected,
                "present": table_report.present,
                "missing_columns": ", ".join(sorted(table_report.missing_columns)) or "none",
                "extra_columns_ignored": ", ".join(sorted(table_report.extra_columns)) or "none",
                "formats": ", ".join(sorted({f.format for f in table_report.files})) or "none",
            },
        )
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="no_malformed_lines",
            passed=table_report.rows_rejected == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"lines_rejected": table_report.rows_rejected},
        )
    yield dg.MaterializeResult(asset_key=REJECTED_LINES_KEY, metadata={"lines": total_rejected})
    yield dg.MaterializeResult(
        asset_key=LANDING_FILES_KEY,
        metadata={
            "files": sum(len(t.files) for t in report.tables),
            "landing_dir": str(report.landing_dir),
            "unclaimed_files": len(report.unclaimed),
        },
    )
    yield dg.AssetCheckResult(
        asset_key=LANDING_FILES_KEY,
        check_name="no_unclaimed_files",
        passed=not report.unclaimed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"unclaimed": "\n".join(str(p) for p in report.unclaimed) or "none"},
    )
    context.log.info(
        "landing: %d tables present, %d rows parsed, %d lines rejected",
        sum(t.present for t in report.tables),
        sum(t.rows_parsed for t in report.tables),
        total_rejected,
    )
