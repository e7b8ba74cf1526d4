"""What a BI user finds in the snapshot the demo run published: every table and column described,
the same tables as Parquet, and no direct identifier."""

from __future__ import annotations

import json

import duckdb

from tests.pipeline.helpers import query
from warehouse.publish import PUBLISHED_SCHEMAS, parquet_folder


def _published(demo_run):
    return demo_run.root / "published" / "warehouse.duckdb"


def test_every_published_table_and_column_carries_its_description(demo_run):
    published = _published(demo_run)
    tables = query(published, "select schema_name, table_name, comment from duckdb_tables()")
    columns = query(
        published,
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where database_name = current_database() and not internal",
    )
    assert {schema for schema, _, _ in tables} == {*PUBLISHED_SCHEMAS, "main"}
    undescribed_tables = [f"{s}.{t}" for s, t, comment in tables if not (comment or "").strip()]
    undescribed_columns = [f"{s}.{t}.{c}" for s, t, c, comment in columns if not (comment or "").strip()]
    assert undescribed_tables == [] and undescribed_columns == [], (undescribed_tables, undescribed_columns)
    assert len(columns) > 200


def test_dbt_writes_its_descriptions_into_the_working_warehouse(demo_run):
    """persist_docs: the tables dbt builds carry their YAML descriptions themselves (the ML tables,
    written from Python, get theirs at publishing)."""
    columns = query(
        demo_run.warehouse,
        "select schema_name, table_name, column_name, comment from duckdb_columns() "
        "where schema_name in ('marts', 'segments', 'audiences')",
    )
    undescribed = [f"{s}.{t}.{c}" for s, t, c, comment in columns if not (comment or "").strip()]
    assert columns and undescribed == [], undescribed


def test_the_parquet_folder_mirrors_the_snapshot(demo_run):
    published = _published(demo_run)
    folder = parquet_folder(published)
    manifest = json.loads((folder / "manifest.json").read_text())
    (info,) = query(
        published, "select run_id, as_of, landing_fingerprint, published_at from main.snapshot_info"
    )
    assert (
        manifest["run_id"],
        manifest["as_of"],
        manifest["landing_fingerprint"],
        manifest["published_at"],
    ) == (
        info[0],
        info[1].isoformat(),
        info[2],
        info[3].isoformat(),
    )
    listed = {(s, t): n for s, t, n in query(published, "select * from main.snapshot_tables")}
    assert {(e["schema"], e["table"]): e["rows"] for e in manifest["tables"]} == listed
    for entry in manifest["tables"]:
        rows = duckdb.sql(f"select count(*) from read_parquet('{folder / entry['file']}')").fetchone()[0]
        assert rows == entry["rows"], entry["file"]
        assert entry["description"] and all(column["description"] for column in entry["columns"]), entry[
            "file"
        ]
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")} == {
        e["file"] for e in manifest["tables"]
    }


def test_no_direct_identifier_is_published(demo_run):
    published = _published(demo_run)
    assert query(
        published, "select count(*) from duckdb_tables() where schema_name in ('restricted', 'privacy')"
    ) == [(0,)]
    assert not (parquet_folder(published) / "restricted").exists()
    identifier_columns = query(
        published,
        "select schema_name || '.' || table_name || '.' || column_name from duckdb_columns() "
        "where not internal and column_name in ('email', 'first_name', 'last_name', 'phone', 'contact_id')",
    )
    assert identifier_columns == []
