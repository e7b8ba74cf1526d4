"""Read a query in bounded batches and write tables of one schema within one session, for the
Python steps that must not hold a whole table in memory (the batched scoring of ml/).

On DuckDB a session is one read-write connection and one transaction: reads run on a cursor of it
(they see the committed marts), every write goes into the transaction, and the tables appear all
at once at the end, or not at all if the step fails, as `replace_tables` does with whole frames.
On Spark each write is its own (Parquet tables have no transaction): a table is replaced, then
appended to, as the other Spark writes do.

Frames come as DuckDB's `.df()` hands them (on Spark, warehouse.engine.pandas_like_duckdb), so a
batch has the types the same query read whole would have had."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from warehouse import context
from warehouse.engine import BATCH_ROWS, SparkEngine, _quoted, arrow_of_frame, pandas_like_duckdb


class DuckDBBatches:
    """Reads and writes of one step on one connection, inside one transaction."""

    def __init__(self, con: duckdb.DuckDBPyConnection, schema: str):
        self.con = con
        self.schema = schema
        self._convert = duckdb.connect()  # Arrow batch -> pandas with DuckDB's own conversion

    def frames(
        self, sql: str, parameters: list | None = None, *, rows: int = BATCH_ROWS
    ) -> Iterator[pd.DataFrame]:
        cursor = self.con.cursor()
        try:
            reader = cursor.execute(sql, parameters or []).to_arrow_reader(rows)
            for batch in reader:
                yield self._convert.from_arrow(pa.Table.from_batches([batch])).df()
        finally:
            cursor.close()

    def frame(self, sql: str, parameters: list | None = None) -> pd.DataFrame:
        cursor = self.con.cursor()
        try:
            return cursor.execute(sql, parameters or []).df()
        finally:
            cursor.close()

    def relation(self, name: str) -> str:
        return f"{_quoted(self.schema, chr(34))}.{_quoted(name, chr(34))}"

    def write(self, name: str, frame: pd.DataFrame, *, append: bool) -> None:
        target = self.relation(name)
        self.con.register("incoming", frame)
        try:
            if append:
                self.con.execute(f"insert into {target} by name select * from incoming")
            else:
                self.con.execute(f"create or replace table {target} as select * from incoming")
        finally:
            self.con.unregister("incoming")

    def create_as(self, name: str, select_sql: str) -> None:
        self.con.execute(f"create or replace table {self.relation(name)} as {select_sql}")

    def drop(self, name: str) -> None:
        self.con.execute(f"drop table if exists {self.relation(name)}")

    def close(self) -> None:
        self._convert.close()


class SparkBatches:
    """The same calls on Spark's catalog, each write on its own."""

    def __init__(self, engine: SparkEngine, schema: str):
        self.engine = engine
        self.schema = schema

    def frames(
        self, sql: str, parameters: list | None = None, *, rows: int = BATCH_ROWS
    ) -> Iterator[pd.DataFrame]:
        for batch in self.engine.read_batches(sql, parameters, batch_rows=rows):
            yield pandas_like_duckdb(pa.Table.from_batches([batch]))

    def frame(self, sql: str, parameters: list | None = None) -> pd.DataFrame:
        return pandas_like_duckdb(self.engine.read_arrow(sql, parameters))

    def relation(self, name: str) -> str:
        return f"{_quoted(self.schema, '`')}.{_quoted(name, '`')}"

    def write(self, name: str, frame: pd.DataFrame, *, append: bool) -> None:
        mode = "append" if append else "replace"
        self.engine.write_table(self.schema, name, arrow_of_frame(frame), mode=mode)

    def create_as(self, name: str, select_sql: str) -> None:
        self.engine.execute(f"create database if not exists {_quoted(self.schema, '`')}")
        self.engine.spark.sql(select_sql).write.format("parquet").mode("overwrite").saveAsTable(
            self.relation(name)
        )

    def drop(self, name: str) -> None:
        self.engine.execute(f"drop table if exists {self.relation(name)}")

    def close(self) -> None:
        """The engine is closed by its owner."""


@contextmanager
def batch_session(schema: str, warehouse: Path | None = None) -> Iterator[DuckDBBatches | SparkBatches]:
    """A session writing tables of `schema` (AW_ENGINE picks the engine; `warehouse` is the DuckDB
    file). On DuckDB everything written is committed when the block ends without an error."""
    if context.engine() == "spark":
        engine = SparkEngine()
        try:
            yield SparkBatches(engine, schema)
        finally:
            engine.close()
        return
    con = context.connect(warehouse)
    session = DuckDBBatches(con, schema)
    try:
        con.execute("begin transaction")
        con.execute(f"create schema if not exists {_quoted(schema, chr(34))}")
        yield session
        con.execute("commit")
    except BaseException:
        with suppress(duckdb.Error):  # gone already if the commit itself failed
            con.execute("rollback")
        raise
    finally:
        session.close()
        con.close()
