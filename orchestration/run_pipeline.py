"""`python -m orchestration.run_pipeline`: run the full_pipeline job of orchestration.definitions
(the same definitions `dagster dev` loads) in this process, then print rows per layer, rows
quarantined and the time of each stage. Runs are recorded in $DAGSTER_HOME when it is set, so
they show up in the Dagster UI afterwards."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import defaultdict

import dagster as dg
import duckdb

from orchestration.run_config import as_of_run_config
from warehouse.context import warehouse_path

LAYER_SCHEMAS = ("staging", "audit", "intermediate", "marts", "segments", "ml", "audiences", "activation")


def _instance() -> dg.DagsterInstance:
    home = os.environ.get("DAGSTER_HOME")
    if home:
        os.makedirs(home, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


def _step_durations(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    started: dict[str, float] = {}
    durations: dict[str, float] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            durations[event.step_key] = entry.timestamp - started.get(event.step_key, entry.timestamp)
    return durations


def _layer_rows(path) -> list[tuple[str, int, int]]:
    """(schema, tables, rows) for every layer schema's tables; views are not counted twice."""
    rows_by_schema: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema in "
            f"({', '.join(repr(s) for s in LAYER_SCHEMAS)}) order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            rows_by_schema[schema][0] += 1
            rows_by_schema[schema][1] += count
        landed = con.execute(
            "select coalesce(sum(rows_landed), 0), "
            "coalesce(sum(rows_rejected_at_landing + rows_quarantined), 0), "
            "coalesce(sum(rows_collapsed_as_duplicates), 0), coalesce(sum(rows_unaccounted), 0) "
            "from audit.source_reconciliation"
        ).fetchone()
    summary = [("landing (rows in files)", 0, landed[0])]
    summary += [(schema, *rows_by_schema[schema]) for schema in LAYER_SCHEMAS if schema in rows_by_schema]
    summary += [
        ("  of which quarantined", 0, landed[1]),
        ("  duplicates collapsed", 0, landed[2]),
        ("  unaccounted (must be 0)", 0, landed[3]),
    ]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--as-of", default=os.environ.get("AW_AS_OF", ""), help="ISO date or date-time")
    parser.add_argument("--job", default="full_pipeline")
    args = parser.parse_args(argv)

    from orchestration.definitions import defs

    job = defs.resolve_job_def(args.job)
    instance = _instance()
    started = time.perf_counter()
    result = job.execute_in_process(
        run_config=as_of_run_config(job, args.as_of), instance=instance, raise_on_error=False
    )
    elapsed = time.perf_counter() - started

    print(f"\n{'stage':42} {'seconds':>9}")
    for step, seconds in _step_durations(instance, result.run_id).items():
        print(f"{step:42} {seconds:9.1f}")
    print(f"{'total':42} {elapsed:9.1f}")
    if not result.success:
        for event in result.all_events:
            if event.event_type == dg.DagsterEventType.STEP_FAILURE:
                error = event.step_failure_data.error
                print(f"\nFAILED {event.step_key}: {error.message.strip() if error else ''}", file=sys.stderr)
        return 1
    print(f"\n{'layer':42} {'tables':>7} {'rows':>12}")
    for layer, tables, rows in _layer_rows(warehouse_path()):
        print(f"{layer:42} {tables or '':>7} {rows:>12,}")
    print(f"\nwarehouse: {warehouse_path()}  (run id {result.run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
