"""The right to erasure, carried out. dbt decides who is erased (privacy.erasure_tombstones: salted
hashes only) and drops their landed rows before staging; this module does what SQL cannot:

1. `propagate_erasures` sends every erased address an ESP may hold (restricted.erasure_targets, a
   view over the landing files and our sync state) to each configured destination's deletion API,
   forgets it in our sync state and logs the result under the address's tombstone hash — never the
   address.
2. `purge_erased_residue` removes what earlier runs left in tables dbt does not rebuild (sync
   state and results, holdout assignments, ML outputs, the incremental membership history,
   rejected landing lines, free-text messages), then rewrites the DuckDB file so no freed page
   keeps a copy. On Spark (AW_ENGINE=spark) the sync state forgets the address through
   activation/state_spark.py, and activation/erasure_spark.py carries out the same sweep by
   rewriting each Parquet table that holds a trace.

Both match identifiers with the warehouse functions privacy.erasure_hash and privacy.is_erased
(which normalizes a raw value as staging does before hashing it), which dbt installs from
the same macro its models use, so Python never re-implements the hash."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from activation.config import ActivationConfig
from activation.errors import ActivationError, InputError
from warehouse.context import MEMORY_LIMIT_ENV, connect, engine

log = logging.getLogger("activation.erasure")

# Column names that hold a personal identifier, and the tombstone kind each is hashed as.
IDENTIFIER_COLUMNS: dict[str, str] = {
    "customer_key": "customer_key",
    "email": "email",
    "member_key": "email",
    "contact_id": "contact_id",
    "canonical_contact_id": "contact_id",
    "anonymous_id": "anonymous_id",
    "order_id": "order_id",
}
# Free-text columns an ESP error may have put an address into.
FREE_TEXT_COLUMNS = (
    ("activation", "sync_runs", "message"),
    ("activation", "sync_results", "reason"),
    ("activation", "erasure_log", "reason"),
)
# Schemas the purge never deletes from: the tombstones themselves and the catalog.
UNTOUCHED_SCHEMAS = ("privacy", "information_schema", "pg_catalog")
# Rebuilt from the landing files by every landing step (rows read line by line, rejected lines):
# swept on every call, not only when tombstones were added. The files themselves are raw inputs the
# project does not own; `make purge-landing` rewrites them.
LANDING_SCHEMA = "landing"
ERASED_TEXT = "[erased]"
COMPACTION_MEMORY_LIMIT = "1GB"
PURGE_LOG_DDL = """CREATE TABLE IF NOT EXISTS activation.erasure_purges (
    purged_at TIMESTAMP NOT NULL,
    tombstones BIGINT NOT NULL,
    rows_deleted BIGINT NOT NULL,
    lines_blanked BIGINT NOT NULL,
    texts_scrubbed BIGINT NOT NULL,
    compacted BOOLEAN NOT NULL,
    run_id VARCHAR)"""


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class PurgeReport:
    """What one purge removed; `skipped` names why the full sweep did not run."""

    tombstones: int = 0
    rows_deleted: dict[str, int] = field(default_factory=dict)
    lines_blanked: int = 0
    texts_scrubbed: int = 0
    compacted: bool = False
    skipped: str | None = None
    sweep_seconds: float = 0.0
    compact_seconds: float = 0.0

    @property
    def total_deleted(self) -> int:
        return sum(self.rows_deleted.values())


def _exists(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    found = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, name],
    ).fetchone()[0]
    return found > 0


def _has_hash_function(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether dbt installed privacy.is_erased: the match normalized as staging normalizes each kind
    (a raw copy of a landed row still carries the tab or capitals the tombstone was hashed without)."""
    found = con.execute(
        "SELECT count(*) FROM duckdb_functions() "
        "WHERE schema_name = 'privacy' AND function_name = 'is_erased'"
    ).fetchone()[0]
    return found > 0


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _identifier_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str]]:
    """(schema, table, column, kind) of every base table column that holds an identifier."""
    rows = con.execute(
        """SELECT c.table_schema, c.table_name, c.column_name
           FROM information_schema.columns AS c
           JOIN information_schema.tables AS t USING (table_catalog, table_schema, table_name)
           WHERE t.table_type = 'BASE TABLE' AND c.data_type = 'VARCHAR'
           ORDER BY 1, 2, 3"""
    ).fetchall()
    return [
        (schema, table, column, IDENTIFIER_COLUMNS[column])
        for schema, table, column in rows
        if column in IDENTIFIER_COLUMNS and schema not in UNTOUCHED_SCHEMAS
    ]


def _blank_rejected_lines(con: duckdb.DuckDBPyConnection) -> int:
    if not (_exists(con, "landing", "rejected_lines") and _exists(con, "privacy", "erased_rejected_lines")):
        return 0
    return (
        con.execute(
            """UPDATE landing.rejected_lines SET raw_line = NULL,
               error_message = 'line of an erased person: text removed'
           WHERE raw_line IS NOT NULL AND (file_path, line_number) IN (
               SELECT file_path, line_number FROM privacy.erased_rejected_lines)
           RETURNING file_path""",
        )
        .df()
        .shape[0]
    )


def _erased_addresses(con: duckdb.DuckDBPyConnection) -> list[str]:
    if not _exists(con, "restricted", "erasure_targets"):
        return []
    return [row[0] for row in con.execute("SELECT DISTINCT email FROM restricted.erasure_targets").fetchall()]


def _scrub_free_text(con: duckdb.DuckDBPyConnection, addresses: list[str]) -> int:
    """Each erased address in a free-text column replaced by [erased], whatever its case (an ESP's
    message may quote it as it was typed)."""
    scrubbed = 0
    for schema, table, column in FREE_TEXT_COLUMNS:
        if not addresses or not _exists(con, schema, table):
            continue
        target = f"{_quote(schema)}.{_quote(table)}"
        for address in addresses:
            scrubbed += (
                con.execute(
                    f"UPDATE {target} SET {_quote(column)} = regexp_replace({_quote(column)}, ?, ?, 'gi') "
                    f"WHERE strpos(lower({_quote(column)}), ?) > 0 RETURNING 1",
                    [re.escape(address), ERASED_TEXT, address.lower()],
                )
                .df()
                .shape[0]
            )
    return scrubbed


def _delete_identified_rows(con: duckdb.DuckDBPyConnection, schemas: str = "all") -> dict[str, int]:
    """Delete every row whose identifier has a tombstone, in the landing schema or in all others.

    Each kind's values are hashed once per distinct value across every table that holds them (into a
    temporary table of the erased values, dropped at once), not once per row of each table: at 100k
    contacts the tables hold tens of millions of identifiers and a few hundred thousand values."""
    columns = [
        (schema, table, column, kind)
        for schema, table, column, kind in _identifier_columns(con)
        if (schema == LANDING_SCHEMA) == (schemas == LANDING_SCHEMA)
    ]
    deleted: dict[str, int] = {}
    for kind in sorted({kind for *_, kind in columns}):
        holders = [(schema, table, column) for schema, table, column, of_kind in columns if of_kind == kind]
        values = " UNION ".join(
            f"SELECT {_quote(column)} AS value FROM {_quote(schema)}.{_quote(table)} "
            f"WHERE {_quote(column)} IS NOT NULL"
            for schema, table, column in holders
        )
        erased = f"erased_{kind}_values"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {erased} AS "
            f"SELECT value FROM ({values}) WHERE privacy.is_erased(?, value)",
            [kind],
        )
        try:
            for schema, table, column in holders:
                delete = (
                    f"DELETE FROM {_quote(schema)}.{_quote(table)} "
                    f"WHERE {_quote(column)} IN (SELECT value FROM temp.{erased})"
                )
                count = con.execute(delete).fetchone()[0]
                if count:
                    deleted[f"{schema}.{table}.{column}"] = count
        finally:
            con.execute(f"DROP TABLE IF EXISTS temp.{erased}")
    return deleted


def compact_warehouse(path: Path) -> None:
    """Rewrite the DuckDB file from scratch (all schemas, tables, views, macros) and swap it in: a
    deleted row otherwise lingers in freed pages of the old file until they happen to be reused.

    The copy streams, so unless AW_DUCKDB_MEMORY_LIMIT says otherwise it runs under a small memory
    limit: under half the machine (the default then) DuckDB kept what it read cached, and copying the
    3.9 GB file of 100k contacts peaked at 8.4 GB; under 1 GB it peaked at 1.5 GB in the same time
    (131 s against 135 s, 2 cores)."""
    path = Path(path)
    partial = path.with_name(f".{path.name}.compacting")
    partial.unlink(missing_ok=True)
    try:
        with connect(path) as con:
            if not os.environ.get(MEMORY_LIMIT_ENV, "").strip():
                con.execute("SET memory_limit = ?", [COMPACTION_MEMORY_LIMIT])
            source = con.execute("SELECT current_database()").fetchone()[0]
            con.execute("CHECKPOINT")
            con.execute(f"ATTACH '{str(partial).replace(chr(39), chr(39) * 2)}' AS compacted")
            con.execute(f"COPY FROM DATABASE {_quote(source)} TO compacted")
            con.execute("DETACH compacted")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, path)


def purge_erased_residue(
    warehouse: str | Path, run_id: str | None = None, *, force: bool = False, compact: bool = True
) -> PurgeReport:
    """Remove every trace of erased people from the tables dbt does not rebuild. Rejected landing
    lines and the landing schema's tables are cleaned on every call (the landing step re-reads them
    from the files); the sweep of every identifier column of every other schema runs when
    tombstones were added since the last sweep, or when forced, and then rewrites the file."""
    path = Path(warehouse)
    report = PurgeReport()
    started = time.perf_counter()
    if engine() == "spark":
        from activation.erasure_spark import purge_erased_residue_spark

        return purge_erased_residue_spark(run_id, force=force)
    with connect(path) as con:
        if not (_exists(con, "privacy", "erasure_tombstones") and _has_hash_function(con)):
            report.skipped = "no tombstones yet (dbt has not built privacy.erasure_tombstones)"
            return report
        report.tombstones = con.execute("SELECT count(*) FROM privacy.erasure_tombstones").fetchone()[0]
        if report.tombstones == 0:
            report.skipped = "nobody has been erased"
            return report
        con.execute("CREATE SCHEMA IF NOT EXISTS activation")
        con.execute(PURGE_LOG_DDL)
        con.execute("BEGIN TRANSACTION")
        # Read before the landing rows go: restricted.erasure_targets is a view over them.
        addresses = _erased_addresses(con)
        report.lines_blanked = _blank_rejected_lines(con)
        report.rows_deleted = _delete_identified_rows(con, LANDING_SCHEMA)
        last = "SELECT coalesce(max(tombstones), 0) FROM activation.erasure_purges"
        swept = con.execute(last).fetchone()[0]
        if report.tombstones == swept and not force:
            report.skipped = f"no tombstone added since the last sweep ({swept})"
        else:
            report.texts_scrubbed = _scrub_free_text(con, addresses)
            report.rows_deleted |= _delete_identified_rows(con)
        # Whenever the sweep ran, even with nothing left to delete: dbt dropped the tables that held
        # the newly erased people, and their old pages keep the rows until overwritten.
        report.compacted = compact and report.skipped is None
        con.execute("COMMIT")
    report.sweep_seconds = round(time.perf_counter() - started, 3)
    if report.compacted:
        compact_warehouse(path)
        report.compact_seconds = round(time.perf_counter() - started - report.sweep_seconds, 3)
    # Logged last: a sweep whose compaction failed is not recorded, so the next call sweeps again
    # (nothing is left to delete) and rewrites the file.
    if report.skipped is None or report.lines_blanked or report.total_deleted:
        with connect(path) as con:
            con.execute(
                "INSERT INTO activation.erasure_purges VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    utcnow(),
                    report.tombstones if report.skipped is None else swept,
                    report.total_deleted,
                    report.lines_blanked,
                    report.texts_scrubbed,
                    report.compacted,
                    run_id,
                ],
            )
    for name, count in sorted(report.rows_deleted.items()):
        log.info("erasure: deleted %d row(s) from %s", count, name)
    return report


def propagate_erasures(
    targets: pd.DataFrame,
    *,
    warehouse: str | Path | None = None,
    config: ActivationConfig | None = None,
    run_id: str | None = None,
) -> pd.DataFrame:
    """Send each erased address (`targets`: email, email_hash) to every configured destination's
    deletion API, forget it in the sync state and log it in activation.erasure_log under its hash.
    A (hash, destination) already done is skipped; a failure is logged and retried by the next
    call. Returns one row per address and destination attempted."""
    from activation.routing import DESTINATION_NAMES
    from activation.runlog import new_run_id
    from activation.sync import SyncEngine

    columns = ["email_hash", "destination", "status", "reason", "state_rows_removed"]
    if targets is None or targets.empty:
        return pd.DataFrame(columns=columns)
    missing = {"email", "email_hash"} - set(targets.columns)
    if missing:
        raise InputError(f"erasure targets lack columns {sorted(missing)}")
    run_id = run_id or new_run_id()
    report = []
    with SyncEngine(warehouse, config) as engine:
        done = engine.warehouse.erasures_done()
        destinations = [name for name in DESTINATION_NAMES if engine.is_configured(name)]
        unique = targets.dropna(subset=["email", "email_hash"]).drop_duplicates("email_hash")
        for email, email_hash in unique[["email", "email_hash"]].itertuples(index=False):
            for name in destinations:
                if (email_hash, name) in done:
                    continue
                row = {
                    "email_hash": email_hash,
                    "destination": name,
                    "processed_at": utcnow(),
                    "status": "done",
                    "reason": None,
                    "run_id": run_id,
                }
                try:
                    outcome = engine.destination(name).erase(email, None)
                    row["reason"] = outcome.reason
                except ActivationError as error:
                    row.update(status="failed", reason=str(error))
                if row["reason"]:
                    row["reason"] = row["reason"].replace(email, ERASED_TEXT)
                if row["status"] == "done":
                    removed = engine.warehouse.forget_member(name, email, row)
                else:
                    engine.warehouse.log_erasure({**row, "state_rows_removed": 0})
                    removed = 0
                report.append({**{k: row[k] for k in columns if k in row}, "state_rows_removed": removed})
    return pd.DataFrame(report, columns=columns)
