"""The published snapshot's source on Spark (AW_ENGINE=spark): the snapshot stays a DuckDB file (and
Parquet) a BI tool opens on its own, so publish_snapshot reads the published schemas' tables from the
Spark catalog through warehouse/engine.py, batch by batch, into an in-memory database attached as
`source`, and copies from there exactly as it copies from the DuckDB warehouse. No DuckDB warehouse
file is opened. It holds the published tables in this process's memory once (DuckDB spills to its
temp directory past its memory limit): fine for the marts a BI snapshot carries, not for landing."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from warehouse.engine import SparkEngine, arrow_like_duckdb

# Read for snapshot_info (the run's as_of, the landing fingerprint), not published.
INFO_TABLES = (("audit", "run_context"), ("landing", "landing_snapshot"))


def _tables(engine: SparkEngine, schemas: tuple[str, ...]) -> list[tuple[str, str]]:
    """The tables (not views) of `schemas` in the Spark catalog, and the info tables it has."""
    databases = {database.name for database in engine.spark.catalog.listDatabases()}
    found = [
        (schema, table.name)
        for schema in schemas
        if schema in databases
        for table in engine.spark.catalog.listTables(schema)
        if table.tableType != "VIEW" and not table.isTemporary
    ]
    return found + [(schema, name) for schema, name in INFO_TABLES if engine.table_exists(schema, name)]


def attach_spark_source(snapshot: duckdb.DuckDBPyConnection, schemas: tuple[str, ...]) -> None:
    """Attach `source`, in memory, holding `schemas`' tables and the info tables from Spark."""
    snapshot.execute("attach ':memory:' as source")
    engine = SparkEngine()
    try:
        for schema, name in _tables(engine, schemas):
            sql = f"select * from `{schema}`.`{name}`"
            table = arrow_like_duckdb(engine.read_arrow(sql), keep_decimals=True)
            snapshot.execute(f'create schema if not exists source."{schema}"')
            snapshot.register("incoming", pa.RecordBatchReader.from_batches(table.schema, table.to_batches()))
            snapshot.execute(f'create table source."{schema}"."{name}" as select * from incoming')
            snapshot.unregister("incoming")
    finally:
        engine.close()
