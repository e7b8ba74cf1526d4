"""The published snapshot is complete, atomic, and never disturbs a reader of the previous one."""

from __future__ import annotations

import duckdb
import pytest

from warehouse.publish import publish_snapshot


def _warehouse(path, customers: int):
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema staging")
        con.execute(
            f"create table marts.customer_profiles as select range as customer_key from range({customers})"
        )
        con.execute("create table staging.stg_private as select 1 as secret")
    return path


def test_snapshot_copies_the_public_schemas_only(tmp_path):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", 5)
    snapshot = publish_snapshot(warehouse, tmp_path / "published" / "warehouse.duckdb")
    assert snapshot.tables == {"marts.customer_profiles": 5}
    with duckdb.connect(str(snapshot.path), read_only=True) as con:
        assert con.execute("select count(*) from marts.customer_profiles").fetchone() == (5,)
        assert con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'staging'"
        ).fetchone() == (0,)


def test_a_failed_publish_leaves_the_previous_snapshot(tmp_path):
    published = tmp_path / "published.duckdb"
    publish_snapshot(_warehouse(tmp_path / "warehouse.duckdb", 3), published)
    with pytest.raises(duckdb.Error):
        publish_snapshot(tmp_path / "missing" / "warehouse.duckdb", published)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from marts.customer_profiles").fetchone() == (3,)
    assert not list(tmp_path.glob(".*.partial"))


def test_a_reader_of_the_old_snapshot_keeps_it_while_the_new_one_is_swapped_in(tmp_path):
    published = tmp_path / "published.duckdb"
    publish_snapshot(_warehouse(tmp_path / "first.duckdb", 3), published)
    reader = duckdb.connect(str(published), read_only=True)
    try:
        publish_snapshot(_warehouse(tmp_path / "second.duckdb", 7), published)
        assert reader.execute("select count(*) from marts.customer_profiles").fetchone() == (3,)
    finally:
        reader.close()
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from marts.customer_profiles").fetchone() == (7,)
