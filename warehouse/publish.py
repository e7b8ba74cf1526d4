"""The published snapshot: a read-only copy of the public schemas for BI tools.

BI tools cannot keep a connection to the working warehouse (DuckDB admits one writer, and a run
rewrites its tables), so after a green run the public tables are copied into a new file that
replaces the published one in a single rename. A reader that has the old file open keeps reading
the old snapshot; the next one opens the new snapshot. Nothing half-written is ever visible.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from warehouse.context import PROJECT_DIR

PUBLISHED_SCHEMAS = ("marts", "segments", "ml", "audiences")
# Direct identifiers (e-mail, names, phone, CRM id): published only when asked for on purpose.
IDENTIFIER_SCHEMAS = ("restricted",)


def published_schemas(include_identifiers: bool = False) -> tuple[str, ...]:
    """The schemas a snapshot copies: the public ones, plus the restricted one only on request."""
    return PUBLISHED_SCHEMAS + (IDENTIFIER_SCHEMAS if include_identifiers else ())


@dataclass(frozen=True)
class PublishedSnapshot:
    path: Path
    tables: dict[str, int]
    published_at: datetime

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def code_version() -> str:
    """The commit the code runs at (with `+changes` when the work tree differs), else the
    package version: which code built a snapshot."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        commit = subprocess.run(
            ["git", "-C", str(PROJECT_DIR), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_DIR), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        return commit + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return version("audience-warehouse")
        except PackageNotFoundError:
            return "unknown"


def _source_value(snapshot: duckdb.DuckDBPyConnection, table: str, sql: str):
    """One value from the source warehouse, None when the table is not there."""
    schema, name = table.split(".")
    found = snapshot.execute(
        "select count(*) from duckdb_tables() where database_name = 'source' "
        "and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchone()[0]
    return snapshot.execute(sql).fetchone()[0] if found else None


def published_landing_fingerprint(published: Path) -> str | None:
    """The landing fingerprint of the run a snapshot was published from (None without one): the
    file-arrival sensor's proof that files were already processed."""
    if not published.exists():
        return None
    try:
        with duckdb.connect(str(published), read_only=True) as snapshot:
            return snapshot.execute("select landing_fingerprint from main.snapshot_info").fetchone()[0]
    except duckdb.Error:
        return None


def publish_snapshot(
    warehouse: Path,
    published: Path,
    schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
    run_id: str | None = None,
) -> PublishedSnapshot:
    """Copy every table of `schemas` from the warehouse into `published`, atomically, with
    `snapshot_info` (when, as of when, which run, which code, which landing files) and
    `snapshot_tables` (rows per table)."""
    published.parent.mkdir(parents=True, exist_ok=True)
    partial = published.with_name(f".{published.name}.partial")
    partial.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    tables: dict[str, int] = {}
    try:
        with duckdb.connect(str(partial)) as snapshot:
            snapshot.execute(f"attach {_literal(str(warehouse))} as source (read_only)")
            found = snapshot.execute(
                "select schema_name, table_name from duckdb_tables() where database_name = 'source' "
                f"and schema_name in ({', '.join(repr(s) for s in schemas)}) order by 1, 2"
            ).fetchall()
            for schema, table in found:
                snapshot.execute(f"create schema if not exists {_quote(schema)}")
                target = f"{_quote(schema)}.{_quote(table)}"
                snapshot.execute(f"create table {target} as select * from source.{target}")
                tables[f"{schema}.{table}"] = snapshot.execute(f"select count(*) from {target}").fetchone()[0]
            as_of = _source_value(
                snapshot,
                "audit.run_context",
                "select as_of from source.audit.run_context where succeeded "
                "order by finished_at desc limit 1",
            )
            fingerprint = _source_value(
                snapshot,
                "landing.landing_snapshot",
                "select fingerprint from source.landing.landing_snapshot",
            )
            snapshot.execute(
                "create table main.snapshot_info as select ? as published_at, ? as as_of, ? as run_id, "
                "? as code_version, ? as landing_fingerprint, ? as source_warehouse",
                [published_at, as_of, run_id, code_version(), fingerprint, str(warehouse)],
            )
            snapshot.execute(
                "create table main.snapshot_tables "
                "(schema_name varchar, table_name varchar, row_count bigint)"
            )
            snapshot.executemany(
                "insert into main.snapshot_tables values (?, ?, ?)",
                [(*name.split(".", 1), rows) for name, rows in tables.items()],
            )
            snapshot.execute("detach source")
            snapshot.execute("checkpoint")
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, published)
    return PublishedSnapshot(published, tables, published_at)


def main() -> int:
    """`make publish`: publish the current warehouse (after a `make dbt`), as a run's last step does."""
    from warehouse import context

    warehouse = context.warehouse_path()
    snapshot = publish_snapshot(
        warehouse,
        context.published_path(warehouse),
        published_schemas(context.publish_identifiers()),
        run_id="make-publish",
    )
    print(f"published {len(snapshot.tables)} tables, {snapshot.rows:,} rows, to {snapshot.path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
