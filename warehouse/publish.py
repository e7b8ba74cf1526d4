"""The published snapshot: a read-only copy of the public schemas for BI tools.

BI tools cannot keep a connection to the working warehouse (DuckDB admits one writer, and a run
rewrites its tables), so after a green run the public tables are copied into a new file that
replaces the published one in a single rename. A reader that has the old file open keeps reading
the old snapshot; the next one opens the new snapshot. Nothing half-written is ever visible.

Beside the file, the same tables as Parquet for tools without a DuckDB driver:

    <published dir>/<snapshot>.duckdb              the snapshot (AW_PUBLISHED_PATH)
    <published dir>/parquet/manifest.json          snapshot_info's values, tables, rows, column docs
    <published dir>/parquet/<schema>/<table>.parquet
    <published dir>/.parquet/<version>/            what `parquet` links to: this publish and the last

Each publish writes a new version folder and swaps the `parquet` link to it with one rename, so a
reader that resolves `parquet` sees one whole publish, never a mix; a table that is no longer
published is simply absent from the new version. Both are written before either is swapped in,
the Parquet link first and the DuckDB file last: a failed publish changes neither.

On Spark (AW_ENGINE=spark) the snapshot is the same DuckDB file and Parquet, its tables read from
the Spark catalog (warehouse/publish_spark.py); the warehouse path is then not opened.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from warehouse.context import PROJECT_DIR, connect, engine
from warehouse.documentation import (
    PYTHON_TABLES,
    Documentation,
    TableDocs,
    manifest_documentation,
)
from warehouse.publish_spark import attach_spark_source

PUBLISHED_SCHEMAS = ("marts", "segments", "ml", "audiences")
# Direct identifiers (e-mail, names, phone, CRM id): published only when asked for on purpose.
IDENTIFIER_SCHEMAS = ("restricted",)

PARQUET_LINK = "parquet"
PARQUET_VERSIONS = ".parquet"
MANIFEST = "manifest.json"

SNAPSHOT_TABLES: dict[tuple[str, str], TableDocs] = {
    ("main", "snapshot_info"): TableDocs(
        "One row: when this snapshot was published and from which run, as_of, code and landing files.",
        {
            "published_at": "When the snapshot was published (UTC).",
            "as_of": "The run's as_of: the 'now' every recency, window and label was computed at.",
            "run_id": "Dagster run that published the snapshot.",
            "code_version": "Commit of the code that built it (+changes when the work tree differed).",
            "landing_fingerprint": "Fingerprint of the landing files the run processed.",
            "landing_source_fingerprints": "The same per source folder (JSON): which sources the "
            "file-arrival sensor may treat as processed.",
            "source_warehouse": "The working warehouse the snapshot was copied from.",
        },
    ),
    ("main", "snapshot_tables"): TableDocs(
        "One row per published table with its row count.",
        {
            "schema_name": "Schema of the table.",
            "table_name": "Table.",
            "row_count": "Rows in the table.",
        },
    ),
}


def published_schemas(include_identifiers: bool = False) -> tuple[str, ...]:
    """The schemas a snapshot copies: the public ones, plus the restricted one only on request."""
    return PUBLISHED_SCHEMAS + (IDENTIFIER_SCHEMAS if include_identifiers else ())


def parquet_folder(published: Path) -> Path:
    """Where the Parquet copy of the snapshot at `published` is read: `parquet/` beside it."""
    return published.parent / PARQUET_LINK


def default_documentation() -> dict[tuple[str, str], TableDocs]:
    """The dbt project's descriptions (target/manifest.json) and those of the Python-written tables:
    what a table or column gets when the warehouse carries no comment for it."""
    return {**manifest_documentation(PROJECT_DIR / "target" / "manifest.json"), **PYTHON_TABLES}


class PublishError(RuntimeError):
    """The snapshot cannot be published where it was asked to: the message says why."""


@dataclass(frozen=True)
class PublishedSnapshot:
    path: Path
    parquet: Path
    tables: dict[str, int]
    published_at: datetime
    snapshot_bytes: int
    parquet_bytes: int

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime | date) else value


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(PROJECT_DIR), *args], capture_output=True, text=True, timeout=10, check=True
    ).stdout.strip()


def code_version() -> str:
    """The commit the code runs at (with `+changes` when the work tree differs), else the
    package version: which code built a snapshot."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
        return commit + ("+changes" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        try:
            return version("audience-warehouse")
        except PackageNotFoundError:
            return "unknown"


def _source_value(snapshot: duckdb.DuckDBPyConnection, table: str, sql: str):
    """One value from the source warehouse, None when the table is not there (or, built before the
    column was, lacks it)."""
    schema, name = table.split(".")
    found = snapshot.execute(
        "select count(*) from duckdb_tables() where database_name = 'source' "
        "and schema_name = ? and table_name = ?",
        [schema, name],
    ).fetchone()[0]
    if not found:
        return None
    try:
        return snapshot.execute(sql).fetchone()[0]
    except duckdb.BinderException:
        return None


@dataclass
class _Table:
    """One published table as the source warehouse describes it."""

    schema: str
    name: str
    comment: str | None
    columns: list[tuple[str, str, str | None]]  # name, type, comment

    @property
    def target(self) -> str:
        return f"{_quote(self.schema)}.{_quote(self.name)}"


def _source_tables(snapshot: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> list[_Table]:
    """Every table of `schemas` in the attached source, with its comments (CREATE TABLE AS drops
    them, so they are copied one by one)."""
    wanted = ", ".join(_literal(s) for s in schemas)
    tables = {
        (schema, name): _Table(schema, name, comment, [])
        for schema, name, comment in snapshot.execute(
            "select schema_name, table_name, comment from duckdb_tables() "
            f"where database_name = 'source' and schema_name in ({wanted}) order by 1, 2"
        ).fetchall()
    }
    for schema, name, column, data_type, comment in snapshot.execute(
        "select schema_name, table_name, column_name, data_type, comment from duckdb_columns() "
        f"where database_name = 'source' and schema_name in ({wanted}) order by 1, 2, column_index"
    ).fetchall():
        if (schema, name) in tables:
            tables[(schema, name)].columns.append((column, data_type, comment))
    return list(tables.values())


def _document(
    snapshot: duckdb.DuckDBPyConnection, table: _Table, documentation: Documentation
) -> tuple[str, dict[str, str]]:
    """Comment the snapshot's copy of `table`: the warehouse's own comment (dbt's persist_docs),
    else the documentation's. Returns the description and column descriptions it set."""
    docs = documentation.get((table.schema, table.name), TableDocs(""))
    description = table.comment or docs.description
    if description:
        snapshot.execute(f"comment on table {table.target} is {_literal(description)}")
    columns = {}
    for column, _, comment in table.columns:
        text = comment or docs.column(column)
        if text:
            snapshot.execute(f"comment on column {table.target}.{_quote(column)} is {_literal(text)}")
            columns[column] = text
    return description, columns


def _check_parquet_folder(link: Path, snapshot_name: str) -> None:
    """Refuse to replace a `parquet` folder that is not this snapshot's: two warehouses whose
    snapshots share a folder would otherwise overwrite each other's Parquet."""
    if link.is_symlink():
        manifest = link / MANIFEST
        owner = json.loads(manifest.read_text()).get("snapshot") if manifest.exists() else snapshot_name
        if owner != snapshot_name:
            raise PublishError(
                f"{link} holds the Parquet of {owner}, not of {snapshot_name}: give each warehouse "
                "a published folder of its own (AW_PUBLISHED_PATH)"
            )
    elif link.exists():
        raise PublishError(f"{link} was not made by publishing (it is not a link): move it away")


def _swap_link(link: Path, version: Path) -> str | None:
    """Point `link` at `version` with one rename; returns the name of the version it left."""
    previous = Path(os.readlink(link)).name if link.is_symlink() else None
    staged = link.with_name(f".{link.name}.{version.name}")
    staged.unlink(missing_ok=True)
    staged.symlink_to(Path(PARQUET_VERSIONS) / version.name, target_is_directory=True)
    os.replace(staged, link)
    return previous


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def _copy_table(
    snapshot: duckdb.DuckDBPyConnection, table: _Table, documentation: Documentation, version: Path
) -> dict:
    """Copy one table into the snapshot with its comments and into the Parquet version folder;
    returns its manifest entry."""
    snapshot.execute(f"create schema if not exists {_quote(table.schema)}")
    snapshot.execute(f"create table {table.target} as select * from source.{table.target}")
    rows = snapshot.execute(f"select count(*) from {table.target}").fetchone()[0]
    description, columns = _document(snapshot, table, documentation)
    file = Path(table.schema) / f"{table.name}.parquet"
    (version / table.schema).mkdir(parents=True, exist_ok=True)
    snapshot.execute(f"copy {table.target} to {_literal(str(version / file))} (format parquet)")
    return {
        "schema": table.schema,
        "table": table.name,
        "file": file.as_posix(),
        "rows": rows,
        "description": description,
        "columns": [
            {"name": name, "type": data_type, "description": columns.get(name, "")}
            for name, data_type, _ in table.columns
        ],
    }


def _write_snapshot_info(snapshot: duckdb.DuckDBPyConnection, info: dict, entries: list[dict]) -> None:
    """main.snapshot_info (one row: `info`) and main.snapshot_tables (rows per table), commented."""
    snapshot.execute(
        "create table main.snapshot_info as select " + ", ".join(f"? as {name}" for name in info),
        list(info.values()),
    )
    snapshot.execute(
        "create table main.snapshot_tables (schema_name varchar, table_name varchar, row_count bigint)"
    )
    if entries:
        snapshot.executemany(
            "insert into main.snapshot_tables values (?, ?, ?)",
            [(entry["schema"], entry["table"], entry["rows"]) for entry in entries],
        )
    for (schema, name), docs in SNAPSHOT_TABLES.items():
        columns = [(column, "", None) for column in docs.columns]
        _document(snapshot, _Table(schema, name, None, columns), SNAPSHOT_TABLES)


def publish_snapshot(
    warehouse: Path,
    published: Path,
    schemas: tuple[str, ...] = PUBLISHED_SCHEMAS,
    run_id: str | None = None,
    documentation: Documentation | None = None,
) -> PublishedSnapshot:
    """Copy every table of `schemas` from the warehouse into `published` and, as Parquet, into
    `parquet/` beside it, atomically, with `snapshot_info` (when, as of when, which run, which
    code, which landing files), `snapshot_tables` (rows per table) and every table's and column's
    description as a comment (and in the Parquet manifest)."""
    documentation = default_documentation() if documentation is None else documentation
    published.parent.mkdir(parents=True, exist_ok=True)
    link = parquet_folder(published)
    _check_parquet_folder(link, published.name)
    partial = published.with_name(f".{published.name}.partial")
    partial.unlink(missing_ok=True)
    published_at = datetime.now(UTC).replace(tzinfo=None)
    version = published.parent / PARQUET_VERSIONS / f"{published_at:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    try:
        version.mkdir(parents=True)
        with connect(partial) as snapshot:
            if engine() == "spark":
                attach_spark_source(snapshot, schemas)
            else:
                snapshot.execute(f"attach {_literal(str(warehouse))} as source (read_only)")
            # One transaction: in autocommit, each of the hundreds of comments would be a commit.
            snapshot.execute("begin transaction")
            entries = [
                _copy_table(snapshot, table, documentation, version)
                for table in _source_tables(snapshot, schemas)
            ]
            info = {
                "published_at": published_at,
                "as_of": _source_value(
                    snapshot,
                    "audit.run_context",
                    "select as_of from source.audit.run_context where succeeded "
                    "order by finished_at desc limit 1",
                ),
                "run_id": run_id,
                "code_version": code_version(),
                "landing_fingerprint": _source_value(
                    snapshot,
                    "landing.landing_snapshot",
                    "select fingerprint from source.landing.landing_snapshot",
                ),
                "landing_source_fingerprints": _source_value(
                    snapshot,
                    "landing.landing_snapshot",
                    "select source_fingerprints from source.landing.landing_snapshot",
                ),
                "source_warehouse": "spark catalog" if engine() == "spark" else str(warehouse),
            }
            _write_snapshot_info(snapshot, info, entries)
            snapshot.execute("commit")
            snapshot.execute("detach source")
            snapshot.execute("checkpoint")
        manifest = {
            "snapshot": published.name,
            **{name: _json_value(value) for name, value in info.items()},
            "tables": entries,
        }
        (version / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        previous = _swap_link(link, version)
    except Exception:
        partial.unlink(missing_ok=True)
        shutil.rmtree(version, ignore_errors=True)
        raise
    os.replace(partial, published)
    _remove_versions(version.parent, keep={version.name, previous})
    tables = {f"{entry['schema']}.{entry['table']}": entry["rows"] for entry in entries}
    return PublishedSnapshot(
        published, link, tables, published_at, published.stat().st_size, _folder_bytes(version)
    )


def _remove_versions(versions: Path, keep: set[str | None]) -> None:
    """Delete every Parquet version but the current one and the one it replaced: a reader that
    resolved `parquet` just before the swap still finds its files."""
    for folder in versions.iterdir():
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


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
    print(
        f"published {len(snapshot.tables)} tables, {snapshot.rows:,} rows, to {snapshot.path} "
        f"and {snapshot.parquet}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
