"""The published snapshot is complete, atomic, documented, mirrored as Parquet, and never disturbs a
reader of the previous one."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path

import duckdb
import pytest

from warehouse import context
from warehouse.documentation import TableDocs
from warehouse.publish import PublishError, parquet_folder, publish_snapshot
from warehouse.snapshot_info import published_landing_fingerprint, published_source_fingerprints


def _warehouse(path: Path, customers: int, extra_table: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts; create schema staging")
        con.execute(
            f"create table marts.customer_profiles as select range as customer_key from range({customers})"
        )
        if extra_table:
            con.execute(f"create table marts.{extra_table} as select range as n from range({customers * 2})")
        con.execute("create table staging.stg_private as select 1 as secret")
    return path


def _parquet_rows(file: Path) -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{file}')").fetchone()[0]


def test_snapshot_copies_the_public_schemas_only(tmp_path):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", 5)
    snapshot = publish_snapshot(warehouse, tmp_path / "published" / "warehouse.duckdb")
    assert snapshot.tables == {"marts.customer_profiles": 5}
    with duckdb.connect(str(snapshot.path), read_only=True) as con:
        assert con.execute("select count(*) from marts.customer_profiles").fetchone() == (5,)
        assert con.execute(
            "select count(*) from duckdb_tables() where schema_name = 'staging'"
        ).fetchone() == (0,)
    assert sorted(
        p.relative_to(snapshot.parquet).as_posix() for p in snapshot.parquet.rglob("*.parquet")
    ) == ["marts/customer_profiles.parquet"]


def test_a_failed_publish_leaves_the_previous_snapshot(tmp_path):
    published = tmp_path / "published.duckdb"
    publish_snapshot(_warehouse(tmp_path / "warehouse.duckdb", 3), published)
    versions_before = sorted((tmp_path / ".parquet").iterdir())
    with pytest.raises(duckdb.Error):
        publish_snapshot(tmp_path / "missing" / "warehouse.duckdb", published)
    with duckdb.connect(str(published), read_only=True) as con:
        assert con.execute("select count(*) from marts.customer_profiles").fetchone() == (3,)
    assert _parquet_rows(parquet_folder(published) / "marts" / "customer_profiles.parquet") == 3
    assert not list(tmp_path.glob(".*.partial"))
    assert sorted((tmp_path / ".parquet").iterdir()) == versions_before


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


def test_the_snapshot_keeps_the_warehouse_comments_and_fills_the_missing_from_the_documentation(tmp_path):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", 2, extra_table="undocumented")
    with duckdb.connect(str(warehouse)) as con:
        con.execute("comment on table marts.customer_profiles is 'One row per customer.'")
        con.execute("comment on column marts.customer_profiles.customer_key is 'The customer''s key.'")
    documentation = {
        ("marts", "customer_profiles"): TableDocs(
            "not used: the warehouse has its own", {"customer_key": "no"}
        ),
        ("marts", "undocumented"): TableDocs("Written from Python.", {"n": "A number."}),
    }
    snapshot = publish_snapshot(
        warehouse, tmp_path / "published" / "warehouse.duckdb", documentation=documentation
    )
    with duckdb.connect(str(snapshot.path), read_only=True) as con:
        tables = dict(
            con.execute("select schema_name || '.' || table_name, comment from duckdb_tables()").fetchall()
        )
        columns = dict(
            con.execute(
                "select schema_name || '.' || table_name || '.' || column_name, comment from duckdb_columns()"
            ).fetchall()
        )
    assert tables["marts.customer_profiles"] == "One row per customer."
    assert columns["marts.customer_profiles.customer_key"] == "The customer's key."
    assert tables["marts.undocumented"] == "Written from Python."
    assert columns["marts.undocumented.n"] == "A number."
    snapshot_own = {name: text for name, text in columns.items() if name.startswith("main.snapshot_")}
    assert snapshot_own and all(snapshot_own.values()), snapshot_own
    manifest = json.loads((snapshot.parquet / "manifest.json").read_text())
    described = {entry["table"]: entry for entry in manifest["tables"]}
    assert described["customer_profiles"]["columns"] == [
        {"name": "customer_key", "type": "BIGINT", "description": "The customer's key."}
    ]
    assert described["undocumented"]["description"] == "Written from Python."


def test_the_parquet_folder_holds_every_published_table_and_a_manifest_of_the_snapshot(tmp_path):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", 4, extra_table="orders")
    snapshot = publish_snapshot(warehouse, tmp_path / "published" / "warehouse.duckdb", run_id="run-1")
    manifest = json.loads((snapshot.parquet / "manifest.json").read_text())
    with duckdb.connect(str(snapshot.path), read_only=True) as con:
        info = con.execute("select * from main.snapshot_info").fetchdf().iloc[0].to_dict()
        rows = {
            f"{schema}.{table}": count
            for schema, table, count in con.execute("select * from main.snapshot_tables").fetchall()
        }
    assert manifest["snapshot"] == "warehouse.duckdb"
    assert manifest["run_id"] == info["run_id"] == "run-1"
    assert manifest["published_at"] == info["published_at"].isoformat()
    assert {k: manifest[k] for k in ("code_version", "landing_fingerprint", "source_warehouse")} == {
        k: info[k] for k in ("code_version", "landing_fingerprint", "source_warehouse")
    }
    assert {f"{e['schema']}.{e['table']}": e["rows"] for e in manifest["tables"]} == rows == snapshot.tables
    for entry in manifest["tables"]:
        assert _parquet_rows(snapshot.parquet / entry["file"]) == entry["rows"]
    assert snapshot.parquet_bytes > 0 and snapshot.snapshot_bytes > 0


def test_a_table_no_longer_published_leaves_the_parquet_folder_and_old_versions_are_removed(tmp_path):
    published = tmp_path / "published" / "warehouse.duckdb"
    publish_snapshot(_warehouse(tmp_path / "first.duckdb", 3, extra_table="retired"), published)
    assert (parquet_folder(published) / "marts" / "retired.parquet").exists()
    for name in ("second", "third"):
        publish_snapshot(_warehouse(tmp_path / f"{name}.duckdb", 5), published)
    assert not (parquet_folder(published) / "marts" / "retired.parquet").exists()
    assert len(list((published.parent / ".parquet").iterdir())) == 2, "the current version and the last"


def test_two_warehouses_publish_to_two_places(tmp_path, monkeypatch):
    """The default published path is beside each warehouse: the example never replaces the demo's."""
    monkeypatch.delenv(context.PUBLISHED_ENV, raising=False)
    demo = _warehouse(tmp_path / "data" / "warehouse.duckdb", 3)
    example = _warehouse(tmp_path / "data" / "examples" / "online_retail" / "warehouse.duckdb", 8)
    demo_snapshot = publish_snapshot(demo, context.published_path(demo))
    example_snapshot = publish_snapshot(example, context.published_path(example))
    assert demo_snapshot.path == tmp_path / "data" / "published" / "warehouse.duckdb"
    assert example_snapshot.path.parent != demo_snapshot.path.parent
    assert example_snapshot.parquet != demo_snapshot.parquet
    for snapshot, customers in ((demo_snapshot, 3), (example_snapshot, 8)):
        with duckdb.connect(str(snapshot.path), read_only=True) as con:
            assert con.execute("select count(*) from marts.customer_profiles").fetchone() == (customers,)
        assert _parquet_rows(snapshot.parquet / "marts" / "customer_profiles.parquet") == customers


def test_a_second_snapshot_in_the_same_folder_does_not_take_the_first_ones_parquet(tmp_path):
    first = publish_snapshot(_warehouse(tmp_path / "a.duckdb", 3), tmp_path / "published" / "a.duckdb")
    with pytest.raises(PublishError, match=r"Parquet of a\.duckdb"):
        publish_snapshot(_warehouse(tmp_path / "b.duckdb", 9), tmp_path / "published" / "b.duckdb")
    assert not (tmp_path / "published" / "b.duckdb").exists()
    assert _parquet_rows(first.parquet / "marts" / "customer_profiles.parquet") == 3


def _expected_tables(run_id: str) -> set[str]:
    return {"marts.customer_profiles", "marts.only_in_a" if run_id == "a" else "marts.only_in_b"}


def _read_snapshot(published: Path) -> str:
    """One BI query against the DuckDB file: every table snapshot_tables lists is there, whole,
    and no other; returns the run it came from."""
    with duckdb.connect(str(published), read_only=True) as con:
        run_id = con.execute("select run_id from main.snapshot_info").fetchone()[0]
        listed = {f"{s}.{t}": n for s, t, n in con.execute("select * from main.snapshot_tables").fetchall()}
        present = {
            f"{s}.{t}"
            for s, t in con.execute(
                "select schema_name, table_name from duckdb_tables() where schema_name <> 'main'"
            ).fetchall()
        }
        assert present == set(listed) == _expected_tables(run_id), (run_id, present, listed)
        for table, rows in listed.items():
            assert con.execute(f"select count(*) from {table}").fetchone()[0] == rows, table
    return run_id


def _read_parquet(link: Path) -> str:
    """One read of the Parquet folder as a tool without a DuckDB driver would: the manifest and every
    file of one resolved folder agree, nothing stale or missing; returns the run it came from."""
    folder = link.resolve(strict=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {p.relative_to(folder).as_posix() for p in folder.rglob("*.parquet")}
    listed = {entry["file"]: entry["rows"] for entry in manifest["tables"]}
    assert files == set(listed), (manifest["run_id"], files, listed)
    assert {f"{e['schema']}.{e['table']}" for e in manifest["tables"]} == _expected_tables(manifest["run_id"])
    for file, rows in listed.items():
        assert _parquet_rows(folder / file) == rows, file
    return manifest["run_id"]


def _read_through_the_link(link: Path) -> str:
    """The quickest read there is, through the `parquet` path itself, over and over: a moment
    without the folder, or with a half-written manifest, fails it."""
    manifest = json.loads((link / "manifest.json").read_text())
    (link / "marts" / "customer_profiles.parquet").stat()
    return manifest["run_id"]


READERS = {"duckdb": _read_snapshot, "parquet": _read_parquet, "link": _read_through_the_link}


def _read_until_stopped(kind: str, path: Path, ready, stop, results) -> None:
    """A BI tool in a process of its own: reads in a loop until stopped, and reports every failure
    and which run each read saw."""
    read, failures, seen = READERS[kind], [], []
    while not stop.is_set():
        try:
            seen.append(read(path))
        except Exception as error:  # every failure is the test's finding, not the reader's end
            failures.append(f"{kind}: {type(error).__name__}: {error}")
        ready.set()
    results.put((kind, failures, seen))


@pytest.mark.slow  # readers in processes of their own across several full publishes
def test_readers_during_full_publishes_never_fail_nor_see_a_half_snapshot(tmp_path):
    """BI tools in other processes query the DuckDB file and the Parquet folder in a loop while the
    snapshot is republished again and again from two warehouses with different tables and row
    counts: no query fails, and every one sees exactly one publish, whole."""
    warehouses = {
        "a": _warehouse(tmp_path / "a" / "warehouse.duckdb", 3, extra_table="only_in_a"),
        "b": _warehouse(tmp_path / "b" / "warehouse.duckdb", 7, extra_table="only_in_b"),
    }
    published = tmp_path / "published" / "warehouse.duckdb"
    publish_snapshot(warehouses["a"], published, run_id="a")
    processes = multiprocessing.get_context("spawn")
    stop, results = processes.Event(), processes.Queue()
    paths = {"duckdb": published, "parquet": parquet_folder(published), "link": parquet_folder(published)}
    readers = []
    for kind, path in paths.items():
        ready = processes.Event()
        reader = processes.Process(target=_read_until_stopped, args=(kind, path, ready, stop, results))
        reader.start()
        readers.append((reader, ready))
    try:
        for _, ready in readers:
            assert ready.wait(timeout=120), "a reader did not start"
        for round_number in range(16):
            run_id = "b" if round_number % 2 == 0 else "a"
            publish_snapshot(warehouses[run_id], published, run_id=run_id)
    finally:
        stop.set()
        reports = [results.get(timeout=120) for _ in readers]
        for reader, _ in readers:
            reader.join(timeout=60)
    failures = [failure for _, found, _ in reports for failure in found]
    assert failures == [], f"{len(failures)} failed reads, the first: {failures[:3]}"
    for kind, _, seen in reports:
        assert {"a", "b"} <= set(seen), (
            f"the {kind} reader did not straddle the publishes ({len(seen)} reads)"
        )
    assert not list(published.parent.glob(".*.partial")) and os.path.islink(parquet_folder(published))


def test_the_snapshot_records_the_landing_files_per_source_and_an_older_warehouse_reads_as_unknown(tmp_path):
    warehouse = _warehouse(tmp_path / "warehouse.duckdb", 3)
    by_source = {"crm": "c1", "web": "w1"}
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema landing")
        con.execute(
            "create table landing.landing_snapshot as select 'all1' as fingerprint, ? as source_fingerprints",
            [json.dumps(by_source)],
        )
    published = publish_snapshot(warehouse, tmp_path / "published" / "warehouse.duckdb").path
    assert published_landing_fingerprint(published) == "all1"
    assert published_source_fingerprints(published) == by_source

    with duckdb.connect(str(warehouse)) as con:  # a landing step from before per-source fingerprints
        con.execute("create or replace table landing.landing_snapshot as select 'all2' as fingerprint")
    published = publish_snapshot(warehouse, tmp_path / "published" / "warehouse.duckdb").path
    assert published_landing_fingerprint(published) == "all2"
    assert published_source_fingerprints(published) is None
