"""Helpers for end-to-end tests: write landing files by hand and materialize the real assets."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from orchestration.automation import EVERY_RUN, daily_refresh
from orchestration.definitions import defs
from orchestration.run_config import as_of_run_config

AS_OF = "2026-06-30T00:00:00"
AS_OF_DATETIME = datetime(2026, 6, 30)
STAGING_GROUPS = ("landing", "reference", "privacy", "staging", "quarantine")
JOB_SELECTIONS = {"full_pipeline": EVERY_RUN, "daily_refresh": daily_refresh.selection}

CONTACT_HEADER = [
    "contact_id", "email", "first_name", "last_name", "phone", "birth_date", "gender", "country", "city",
    "postal_code", "income_band", "loyalty_tier", "signup_at", "email_opt_in", "opt_in_at",
    "tracking_consent", "updated_at",
]  # fmt: skip
ORDER_HEADER = [
    "order_id", "contact_id", "email", "ordered_at", "status", "currency", "subtotal", "discount",
    "shipping", "total", "channel",
]  # fmt: skip


def contact(
    contact_id: str, email: str, updated_at: str = "2026-01-01T00:00:00Z", **fields: str
) -> list[str]:
    row = dict.fromkeys(CONTACT_HEADER, "")
    row.update(contact_id=contact_id, email=email, updated_at=updated_at, email_opt_in="yes", **fields)
    return [row[c] for c in CONTACT_HEADER]


def order(order_id: str, contact_id: str, total: str = "10.00", **fields: str) -> list[str]:
    row = dict.fromkeys(ORDER_HEADER, "")
    row.update(
        order_id=order_id, contact_id=contact_id, ordered_at="2026-03-01T10:00:00Z", status="completed",
        currency="USD", subtotal=total, discount="0", shipping="0", total=total, channel="web", **fields,
    )  # fmt: skip
    return [row[c] for c in ORDER_HEADER]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    """Raw text lines, for files a CSV writer would refuse to produce (broken quoting...)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    return write_lines(path, [json.dumps(r) for r in records])


def write_parquet(path: Path, frame: pd.DataFrame) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def materialize(
    groups: tuple[str, ...] | None = STAGING_GROUPS, as_of: str = AS_OF, *, job: str = "full_pipeline"
) -> dg.ExecuteInProcessResult:
    """Materialize the real assets, checks and resources of orchestration.definitions in process,
    against the places the environment names: the groups, or when groups is None what the job
    (full_pipeline by default, never the backtest; daily_refresh: all but training) selects."""
    selection = dg.AssetSelection.groups(*groups) if groups else JOB_SELECTIONS[job]
    job = dg.define_asset_job("test_job", selection=selection)
    definitions = dg.Definitions(
        assets=list(defs.assets), asset_checks=list(defs.asset_checks), jobs=[job], resources=defs.resources
    )
    resolved = definitions.resolve_job_def("test_job")
    return resolved.execute_in_process(run_config=as_of_run_config(resolved, as_of), raise_on_error=False)


def failure_messages(result: dg.ExecuteInProcessResult) -> str:
    messages = []
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            error = event.step_failure_data.error
            while error is not None:
                messages.append(error.message)
                error = error.cause
    return "\n".join(messages)


def query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


# Logs that grow by one row per dbt invocation on purpose; not tables a re-run must reproduce.
RUN_LOGS = ("audit.run_context",)


def table_fingerprints(warehouse: Path, schemas: tuple[str, ...]) -> dict[str, tuple[int, str]]:
    """(rows, hash of the sorted rows) of every table in the schemas, run logs aside: equal
    fingerprints mean equal tables, whatever the physical row order."""
    fingerprints = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            f"where table_type = 'BASE TABLE' and table_schema in ({', '.join(repr(s) for s in schemas)})"
        ).fetchall()
        for schema, table in tables:
            if f"{schema}.{table}" in RUN_LOGS:
                continue
            rows = "string_agg(cast(t as varchar), '|' order by cast(t as varchar))"
            fingerprints[f"{schema}.{table}"] = con.execute(
                f'select count(*), coalesce(md5({rows}), \'\') from "{schema}"."{table}" as t'
            ).fetchone()
    return fingerprints


def copy_run(run, destination: Path, monkeypatch) -> Path:
    """A copy of a finished run (warehouse, models, exports) that a test may run again and change,
    with the environment pointing at it; returns the copied warehouse."""
    for folder in ("models", "exports"):
        if (run.root / folder).exists():
            shutil.copytree(run.root / folder, destination / folder)
    warehouse = destination / "warehouse.duckdb"
    shutil.copy(run.warehouse, warehouse)
    monkeypatch.setenv("AW_LANDING_DIR", str(run.landing))
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("AW_MODELS_DIR", str(destination / "models"))
    monkeypatch.setenv("AW_PUBLISHED_PATH", str(destination / "published" / "warehouse.duckdb"))
    monkeypatch.setenv("AW_ACTIVATION_FILE_DIR", str(destination / "exports"))
    return warehouse
