"""One small interface to the warehouse for the Python steps, with a DuckDB and a Spark
implementation, so that ML and activation read the marts and write their tables the same way on
either engine (AW_ENGINE, warehouse/context.py):

- read_batches(sql, batch_rows=100_000) -> Iterator[pyarrow.RecordBatch]
- read_arrow(sql) -> pyarrow.Table (the batches, gathered)
- write_table(schema, name, arrow table or batches, mode="replace" | "append")
- execute(sql), table_exists(schema, name), close()

Why Arrow: it is what both engines hand over without a copy per row (DuckDB's record batches,
Spark's toArrow / createDataFrame from Arrow), and a caller that needs pandas converts only what it
reads. Connections and sessions are opened per use and closed at once: DuckDB admits one writer per
file, and a local Spark session's embedded metastore one process."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from warehouse import context

BATCH_ROWS = 100_000


def arrow_like_duckdb(table: pa.Table, keep_decimals: bool = False) -> pa.Table:
    """An Arrow result with DuckDB's types: decimals as float64 (as its `.df()` hands them, unless
    `keep_decimals`), timestamps as naive UTC. Spark hands decimals as Decimal objects and
    timestamps in the session's zone, which the Python steps would otherwise meet only on Spark."""
    columns = []
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_decimal(field.type) and not keep_decimals:
            column = column.cast(pa.float64())
        elif pa.types.is_timestamp(field.type) and field.type.tz is not None:
            column = column.cast(pa.timestamp(field.type.unit, tz="UTC")).cast(pa.timestamp(field.type.unit))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def pandas_like_duckdb(table: pa.Table):
    """A pandas frame of an Arrow result with DuckDB's conversions (its `.df()`)."""
    return arrow_like_duckdb(table).to_pandas()


def arrow_for_spark(table: pa.Table) -> pa.Table:
    """Arrow data typed for write_table on Spark as DuckDB stores it: naive timestamps as UTC
    instants (Spark's TIMESTAMP, in a UTC session the same wall clock, rather than TIMESTAMP_NTZ)
    and an all-null column as text (Parquet has no column of type null)."""
    columns = []
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_null(field.type):
            column = column.cast(pa.string())
        elif pa.types.is_timestamp(field.type):
            column = column.cast(pa.timestamp("us", tz=field.type.tz or "UTC"))
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def arrow_of_frame(frame) -> pa.Table:
    """A pandas frame as Arrow for write_table on Spark (arrow_for_spark)."""
    return arrow_for_spark(pa.Table.from_pandas(frame, preserve_index=False))


def _quoted(name: str, quote: str) -> str:
    return quote + name.replace(quote, quote * 2) + quote


def _as_reader(data: pa.Table | pa.RecordBatchReader | Iterable[pa.RecordBatch]) -> pa.RecordBatchReader:
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, pa.RecordBatchReader):
        return data
    batches = iter(data)
    first = next(batches, None)
    if first is None:
        raise ValueError("write_table needs an Arrow table or at least one record batch (for the schema)")
    return pa.RecordBatchReader.from_batches(first.schema, _chain(first, batches))


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


class DuckDBEngine:
    """The warehouse file; a read-only connection for reads, so a reader never takes the lock."""

    name = "duckdb"

    def __init__(self, path: Path | None = None):
        self.path = Path(path) if path else context.warehouse_path()

    def read_batches(
        self, sql: str, parameters: list | None = None, batch_rows: int = BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        with duckdb.connect(str(self.path), read_only=True) as con:
            yield from con.execute(sql, parameters or []).fetch_record_batch(batch_rows)

    def read_arrow(self, sql: str, parameters: list | None = None) -> pa.Table:
        with duckdb.connect(str(self.path), read_only=True) as con:
            return con.execute(sql, parameters or []).fetch_arrow_table()

    def write_table(self, schema: str, name: str, data, mode: str = "replace") -> int:
        """Create or replace (or append to) schema.name from Arrow data, in one transaction;
        returns the rows written."""
        reader = _as_reader(data)
        target = f"{_quoted(schema, chr(34))}.{_quoted(name, chr(34))}"
        with duckdb.connect(str(self.path)) as con:
            con.execute("begin transaction")
            con.execute(f"create schema if not exists {_quoted(schema, chr(34))}")
            con.register("incoming", reader)
            if mode == "append":
                con.execute(f"create table if not exists {target} as select * from incoming where false")
                written = con.execute(f"insert into {target} by name select * from incoming").fetchone()[0]
            else:
                con.execute(f"create or replace table {target} as select * from incoming")
                written = con.execute(f"select count(*) from {target}").fetchone()[0]
            con.unregister("incoming")
            con.execute("commit")
        return int(written)

    def execute(self, sql: str, parameters: list | None = None) -> None:
        with duckdb.connect(str(self.path)) as con:
            con.execute(sql, parameters or [])

    def table_exists(self, schema: str, name: str) -> bool:
        if not self.path.exists():
            return False
        with duckdb.connect(str(self.path), read_only=True) as con:
            found = con.execute(
                "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                [schema, name],
            ).fetchone()[0]
        return found > 0

    def close(self) -> None:
        """Nothing held between calls."""


def spark_session():
    """The Spark session of context.spark_settings(), with the Hive catalog dbt-spark uses (its
    `session` method builds the same one from profiles.yml)."""
    from pyspark.sql import SparkSession

    context.spark_dir().mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.appName("audience-warehouse").enableHiveSupport()
    for key, value in context.spark_settings().items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def stop_spark(session) -> None:
    """Stop the session and the JVM behind it: the embedded metastore is released only when that
    process ends, and the next step (a dbt subprocess, say) must be able to open it."""
    from pyspark import SparkContext

    if SparkContext._gateway is None:
        return  # stopped already, JVM and all
    session.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    gateway.shutdown()
    if process is not None:
        process.stdin.close()
        process.wait(timeout=120)
    SparkContext._gateway = None
    SparkContext._jvm = None


class _SharedSession:
    """The process's one Spark session, shared by the engines open at the same time and stopped
    when the last of them closes: a step that reads, writes and keeps activation state starts one
    JVM, not one per call, and none is left running when the step ends (the next dbt step opens the
    local metastore in a process of its own). Inside spark_kept_between_steps() it outlives its
    last user, until stop_idle_spark()."""

    lock = threading.Lock()
    session = None
    users = 0
    kept = False

    @classmethod
    def acquire(cls):
        with cls.lock:
            if cls.session is None:
                cls.session = spark_session()
            cls.users += 1
            return cls.session

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.users -= 1
            if not cls.kept:
                cls._stop_if_idle()

    @classmethod
    def _stop_if_idle(cls) -> None:
        if cls.users == 0 and cls.session is not None:
            session, cls.session = cls.session, None
            stop_spark(session)


def stop_idle_spark() -> None:
    """Stop this process's Spark session if no engine uses it: before a process of its own (dbt)
    opens the local metastore, which admits one process at a time."""
    with _SharedSession.lock:
        _SharedSession._stop_if_idle()


@contextmanager
def spark_kept_between_steps() -> Iterator[None]:
    """For a process that runs a job's steps one after the other (`make run`, in process): the
    session the first Spark step starts serves the next ones, instead of a JVM and a metastore
    start per step (about 10 s each on a 2-core machine). The dbt steps stop it before their
    subprocess opens the metastore (orchestration/project.py), and it stops when the block ends.
    Each step of a multiprocess run is a process of its own, so nothing is kept there."""
    _SharedSession.kept = True
    try:
        yield
    finally:
        _SharedSession.kept = False
        stop_idle_spark()


class SparkEngine:
    """Tables of the Spark catalog, Parquet. The session starts at the first call (shared with
    the other engines open in this process) and stops when the last of them closes; a result is
    gathered on the driver as Arrow and handed over in batches."""

    name = "spark"

    def __init__(self, session=None):
        self._session = session
        self._owned = session is None

    @property
    def spark(self):
        if self._session is None:
            self._session = _SharedSession.acquire()
        return self._session

    def start(self) -> None:
        """Start (or join) the session now rather than at the first call."""
        _ = self.spark

    def read_arrow(self, sql: str, parameters: list | None = None) -> pa.Table:
        frame = self.spark.sql(sql, args=parameters) if parameters else self.spark.sql(sql)
        return frame.toArrow()

    def read_batches(
        self, sql: str, parameters: list | None = None, batch_rows: int = BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        yield from self.read_arrow(sql, parameters).to_batches(batch_rows)

    def write_table(self, schema: str, name: str, data, mode: str = "replace") -> int:
        table = data if isinstance(data, pa.Table) else _as_reader(data).read_all()
        self.spark.sql(f"create database if not exists {_quoted(schema, '`')}")
        frame = self.spark.createDataFrame(table)
        target = f"{_quoted(schema, '`')}.{_quoted(name, '`')}"
        if mode == "append" and self.table_exists(schema, name):
            self._by_name(frame, target).write.insertInto(target)
        else:
            frame.write.format("parquet").mode("overwrite").saveAsTable(target)
        return table.num_rows

    def _by_name(self, frame, target: str):
        """The frame's columns in the target table's order (insertInto is by position), a missing
        one as null: DuckDB's `insert ... by name`. A column the table lacks is an error."""
        from pyspark.sql import functions

        existing = self.spark.table(target).schema
        unknown = sorted(set(frame.columns) - {field.name for field in existing})
        if unknown:
            raise ValueError(f"{target} has no column {', '.join(unknown)}")
        return frame.select(
            *[
                (frame[field.name] if field.name in frame.columns else functions.lit(None))
                .cast(field.dataType)
                .alias(field.name)
                for field in existing
            ]
        )

    def execute(self, sql: str, parameters: list | None = None) -> None:
        self.spark.sql(sql, args=parameters) if parameters else self.spark.sql(sql)

    def table_exists(self, schema: str, name: str) -> bool:
        return bool(self.spark.catalog.tableExists(f"{schema}.{name}"))

    def close(self) -> None:
        if self._session is not None and self._owned:
            _SharedSession.release()
        self._session = None


def open_engine(warehouse: Path | None = None) -> DuckDBEngine | SparkEngine:
    """The engine AW_ENGINE names; `warehouse` is the DuckDB file (ignored on Spark)."""
    return SparkEngine() if context.engine() == "spark" else DuckDBEngine(warehouse)


@contextmanager
def connected(warehouse: Path | None = None) -> Iterator[DuckDBEngine | SparkEngine]:
    engine = open_engine(warehouse)
    try:
        yield engine
    finally:
        engine.close()
