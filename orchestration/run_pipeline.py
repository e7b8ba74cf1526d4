"""`python -m orchestration.run_pipeline` (`make run`): run the full_pipeline job of
orchestration.definitions (the same definitions `dagster dev` loads) in this process, then print
rows per layer, rows quarantined and the time of each stage. Runs are recorded in $DAGSTER_HOME
when it is set, so they show up in the Dagster UI afterwards.

Quiet by default: one line per stage as it finishes (seconds, assets, rows) and dbt's own node
lines; `-v` prints every Dagster event. Before any step it checks what would make the first step
fail (as_of, landing folder, a process holding the warehouse), and the last line of a failed run
names the root cause, not only the step."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import dagster as dg

from orchestration.run_config import as_of_run_config
from warehouse.context import AS_OF_ENV, connect, engine, landing_dir, preflight, warehouse_path
from warehouse.engine import spark_kept_between_steps

LAYER_SCHEMAS = ("staging", "audit", "intermediate", "marts", "segments", "ml", "audiences", "activation")
ROW_METADATA_KEYS = ("rows", "row_count", "dagster/row_count")


def _instance() -> dg.DagsterInstance:
    home = os.environ.get("DAGSTER_HOME")
    if home:
        os.makedirs(home, exist_ok=True)
        return dg.DagsterInstance.get()
    return dg.DagsterInstance.ephemeral()


class DbtProgressFilter(io.TextIOBase):
    """What reaches the console of dbt's output (dagster-dbt re-prints all of it): the line of each
    model and seed built, and every warning, error and failure; not the START and PASS lines."""

    KEEP = (" OK created ", " OK loaded ", " ERROR ", " FAIL ", " WARN ", "Completed with", "Runtime Error")

    def __init__(self, console):
        self.console = console
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if any(marker in line for marker in self.KEEP):
                self.console.write(f"    {line.strip()}\n")
        self.console.flush()
        return len(text)

    def flush(self) -> None:
        self.console.flush()


class ProgressHandler(logging.Handler):
    """Turns Dagster's event stream into one line per finished stage, plus dbt's node lines."""

    def __init__(self, stream=sys.stdout):
        super().__init__()
        self.stream = stream
        self.assets: dict[str, int] = defaultdict(int)
        self.rows: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        step = meta.get("step_key") or ""
        if event is None:
            return
        kind = event.event_type
        if kind == dg.DagsterEventType.ASSET_MATERIALIZATION:
            self.assets[step] += 1
            materialization = event.event_specific_data.materialization
            for key in ROW_METADATA_KEYS:
                value = materialization.metadata.get(key)
                if value is not None and isinstance(getattr(value, "value", None), int):
                    self.rows[step] += value.value
                    break
        elif kind == dg.DagsterEventType.STEP_SUCCESS:
            seconds = event.event_specific_data.duration_ms / 1000
            self.seconds[step] = seconds
            rows = f"{self.rows[step]:>12,} rows" if self.rows[step] else " " * 17
            self.stream.write(f"  ok    {step:44} {seconds:7.1f}s {self.assets[step]:>4} assets {rows}\n")
            self.stream.flush()
        elif kind == dg.DagsterEventType.STEP_FAILURE:
            self.stream.write(f"  FAIL  {step}\n")
            self.stream.flush()


def _progress_logger(handler: logging.Handler) -> dg.LoggerDefinition:
    @dg.logger
    def progress(_init_context) -> logging.Logger:
        logger = logging.getLogger("audience_warehouse.progress")
        logger.handlers = [handler]
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        return logger

    return progress


def root_cause(result: dg.ExecuteInProcessResult) -> list[str]:
    """One line per failed step: the step and the innermost error's first lines (a landing file and
    its rule, the process holding a lock, the dbt node that failed), not the wrapper's."""
    lines = []
    for event in result.all_events:
        if event.event_type != dg.DagsterEventType.STEP_FAILURE:
            continue
        error = event.step_failure_data.error
        while error is not None and error.cause is not None:
            error = error.cause
        text = (error.message if error else "").strip()
        detail = [line.strip() for line in text.splitlines() if line.strip()][:6]
        lines.append(f"FAILED {event.step_key}: " + " | ".join(detail))
    return lines


RECONCILIATION_SQL = (
    "select coalesce(sum(rows_landed), 0), "
    "coalesce(sum(rows_rejected_at_landing + rows_quarantined), 0), "
    "coalesce(sum(rows_collapsed_as_duplicates), 0), coalesce(sum(rows_erased), 0), "
    "coalesce(sum(rows_unaccounted), 0) from audit.source_reconciliation"
)


def _duckdb_layers(path) -> tuple[dict[str, list[int]], tuple]:
    rows_by_schema: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with connect(path, read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_type = 'BASE TABLE' and table_schema in "
            f"({', '.join(repr(s) for s in LAYER_SCHEMAS)}) order by 1, 2"
        ).fetchall()
        for schema, table in tables:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            rows_by_schema[schema][0] += 1
            rows_by_schema[schema][1] += count
        landed = con.execute(RECONCILIATION_SQL).fetchone()
    return rows_by_schema, landed


def _spark_layers() -> tuple[dict[str, list[int]], tuple]:
    from warehouse.engine import SparkEngine

    rows_by_schema: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    engine = SparkEngine()
    try:
        databases = {row.name for row in engine.spark.catalog.listDatabases()}
        for schema in (s for s in LAYER_SCHEMAS if s in databases):
            for table in engine.spark.catalog.listTables(schema):
                if table.tableType == "VIEW":
                    continue
                rows_by_schema[schema][0] += 1
                rows_by_schema[schema][1] += engine.spark.table(f"`{schema}`.`{table.name}`").count()
        landed = tuple(engine.read_arrow(RECONCILIATION_SQL).to_pylist()[0].values())
    finally:
        engine.close()
    return rows_by_schema, landed


def _layer_rows(path) -> list[tuple[str, int, int]]:
    """(schema, tables, rows) for every layer schema's tables; views are not counted twice."""
    rows_by_schema, landed = _spark_layers() if engine() == "spark" else _duckdb_layers(path)
    summary = [("landing (rows in files)", 0, landed[0])]
    summary += [(schema, *rows_by_schema[schema]) for schema in LAYER_SCHEMAS if schema in rows_by_schema]
    summary += [
        ("  of which quarantined", 0, landed[1]),
        ("  duplicates collapsed", 0, landed[2]),
        ("  erased (privacy requests)", 0, landed[3]),
        ("  unaccounted (must be 0)", 0, landed[4]),
    ]
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--as-of", default=os.environ.get(AS_OF_ENV, ""), help="ISO date or date-time, or `now`"
    )
    parser.add_argument("--job", default="full_pipeline")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every Dagster event")
    parser.add_argument(
        "--report", type=Path, help="also write the seconds of each step and the rows per layer (JSON)"
    )
    args = parser.parse_args(argv)
    if args.report and args.verbose:
        parser.error("--report takes the step times from the quiet progress lines: leave out -v")

    problems = preflight(args.as_of, warehouse_path(), landing_dir())
    if problems:
        for problem in problems:
            print(f"cannot start: {problem}", file=sys.stderr)
        return 2

    from orchestration.definitions import defs

    job = defs.resolve_job_def(args.job)
    instance = _instance()
    progress = ProgressHandler()
    run_config = as_of_run_config(job, args.as_of)
    if not args.verbose:
        run_config["loggers"] = {"console": {"config": {"log_level": "CRITICAL"}}, "progress": {}}
        job = job.with_logger_defs({**job.loggers, "progress": _progress_logger(progress)})
    where = "Spark" if engine() == "spark" else warehouse_path()
    print(f"running {args.job} on {where} (as_of {args.as_of or 'from the run context'})")
    started = time.perf_counter()
    quiet = (
        contextlib.nullcontext()
        if args.verbose
        else contextlib.redirect_stdout(DbtProgressFilter(sys.stdout))
    )
    with quiet, spark_kept_between_steps():
        result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    elapsed = time.perf_counter() - started

    print(f"{'total':52} {elapsed:7.1f}s")
    if not result.success:
        causes = root_cause(result)
        print(
            f"\nthe run failed (run id {result.run_id}; `make run V=1` or the Dagster UI shows every event)"
        )
        for line in causes:
            print(line, file=sys.stderr)
        return 1
    layers = _layer_rows(warehouse_path())
    print(f"\n{'layer':44} {'tables':>7} {'rows':>12}")
    for layer, tables, rows in layers:
        print(f"{layer:44} {tables or '':>7} {rows:>12,}")
    if args.report:
        report = {
            "run_id": result.run_id,
            "total_seconds": round(elapsed, 1),
            "step_seconds": {step: round(seconds, 1) for step, seconds in progress.seconds.items()},
            "step_rows": dict(progress.rows),
            "layers": {layer.strip(): {"tables": tables, "rows": rows} for layer, tables, rows in layers},
        }
        args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(f"\nwarehouse: {where}  (run id {result.run_id})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
