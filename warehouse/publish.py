"""The published snapshot: a read-only copy of the public schemas for BI tools.

BI tools cannot keep a connection to the working warehouse (DuckDB admits one writer, and a run
rewrites its tables), so after a green run the public tables are copied into a new file that
replaces the published one in a single rename. A reader that has the old file open keeps reading
the old snapshot; the next one opens the new snapshot. Nothing half-written is ever visible.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

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


def publish_snapshot(
    warehouse: Path, published: Path, schemas: tuple[str, ...] = PUBLISHED_SCHEMAS
) -> PublishedSnapshot:
    """Copy every table of `schemas` from the warehouse into `published`, atomically."""
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
            snapshot.execute(
                "create table main.snapshot_info as select ? as published_at, ? as source_warehouse",
                [published_at, str(warehouse)],
            )
            snapshot.execute("detach source")
            snapshot.execute("checkpoint")
    except Exception:
        partial.unlink(missing_ok=True)
        raise
    os.replace(partial, published)
    return PublishedSnapshot(published, tables, published_at)
