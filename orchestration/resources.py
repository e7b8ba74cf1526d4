"""Configuration shared by the assets: where the warehouse and the landing files are, and the
run's as_of. Everything comes from environment variables with the defaults that dbt's
profiles.yml uses, so Dagster and a bare `dbt build` always agree on the warehouse."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd

from warehouse import context
from warehouse.batches import DuckDBBatches, SparkBatches, batch_session
from warehouse.context import warehouse_pool as context_pool
from warehouse.engine import arrow_of_frame, connected, pandas_like_duckdb

# Every step and asset check that opens the warehouse, reading or writing, is in this pool (limit 1,
# orchestration/dagster.yaml): DuckDB takes one writer and a reader blocks it. The name is the
# warehouse file's, so a second warehouse (an example, a backtest) never waits for this one.
DUCKDB_POOL = context.warehouse_pool()


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file and the landing folder; empty means AW_WAREHOUSE_PATH /
    AW_LANDING_DIR, else data/warehouse.duckdb and data/landing (read when used, not at import).
    Connections are opened per use and closed at once: DuckDB takes one writer at a time, so no
    step may hold one across steps. With AW_ENGINE=spark reads and writes go to Spark's catalog
    (warehouse/engine.py), a session per call: a local session's metastore admits one process, and
    the dbt step runs in another."""

    warehouse_path: str = ""
    landing_dir: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """The pool a step holds is the one of the warehouse named when the code location loaded:
        a step pointed at another file (a launchpad override, a changed AW_WAREHOUSE_PATH) would
        hold the wrong warehouse's slot, so it is refused with what to do. Only runs launched from a
        loaded code location (`dagster dev`, the daemon) hold pool slots; in-process runs, sensors
        and scripts that set the environment after import run one step at a time and are let be."""
        launched_from_code_location = context.run is not None and (context.run.remote_job_origin is not None)
        if launched_from_code_location and context_pool(self.path) != DUCKDB_POOL:
            raise dg.Failure(
                f"this step would open {self.path}, but the code location serialises steps for the "
                f"warehouse named when it loaded (pool {DUCKDB_POOL}): set AW_WAREHOUSE_PATH before "
                "starting Dagster (and reload the code location) instead of overriding the resource"
            )

    @property
    def path(self) -> Path:
        return context.resolve_path(self.warehouse_path) if self.warehouse_path else context.warehouse_path()

    @property
    def landing(self) -> Path:
        return context.resolve_path(self.landing_dir) if self.landing_dir else context.landing_dir()

    @contextmanager
    def session(self) -> Iterator[None]:
        """On Spark, one session for the calls of a step (warehouse/engine.py shares it); on
        DuckDB nothing: every call opens and closes its own connection."""
        if context.engine() != "spark":
            yield
            return
        with connected() as engine:
            engine.start()
            yield

    def frame(self, sql: str, parameters: list | None = None) -> pd.DataFrame:
        """The result of a query, from a read-only connection closed before returning."""
        if context.engine() == "spark":
            with connected() as engine:
                return pandas_like_duckdb(engine.read_arrow(sql, parameters))
        with context.connect(self.path, read_only=True) as con:
            return con.execute(sql, parameters or []).df()

    def table_exists(self, schema: str, table: str) -> bool:
        if context.engine() == "spark":
            with connected() as engine:
                return engine.table_exists(schema, table)
        with context.connect(self.path, read_only=True) as con:
            found = con.execute(
                "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
                [schema, table],
            ).fetchone()[0]
        return found > 0

    def replace_tables(self, schema: str, tables: dict[str, pd.DataFrame]) -> dict[str, int]:
        """Write DataFrames as tables of `schema` and return their row counts. On DuckDB all in one
        transaction (a reader sees all or none of them); on Spark each table is replaced on its own
        (Parquet tables have no multi-table transaction), in the order given."""
        if context.engine() == "spark":
            with connected() as engine:
                return {
                    name: engine.write_table(schema, name, arrow_of_frame(table))
                    for name, table in tables.items()
                }
        counts = {}
        with context.connect(self.path) as con:
            con.execute("begin transaction")
            con.execute(f'create schema if not exists "{schema}"')
            for name, table in tables.items():
                con.register("incoming", table)
                con.execute(f'create or replace table "{schema}"."{name}" as select * from incoming')
                con.unregister("incoming")
                counts[name] = len(table)
            con.execute("commit")
        return counts

    @contextmanager
    def batches(self, schema: str) -> Iterator[DuckDBBatches | SparkBatches]:
        """Read in bounded batches and write tables of `schema` (warehouse/batches.py): on DuckDB
        one transaction, committed when the block ends without an error."""
        with batch_session(schema, self.path) as session:
            yield session

    def append_rows(self, schema: str, table: str, rows: pd.DataFrame) -> None:
        """Add rows to a log table by column name, creating it from the first rows' columns."""
        if context.engine() == "spark":
            with connected() as engine:
                engine.write_table(schema, table, arrow_of_frame(rows), mode="append")
            return
        with context.connect(self.path) as con:
            con.execute(f'create schema if not exists "{schema}"')
            con.register("incoming", rows)
            con.execute(
                f'create table if not exists "{schema}"."{table}" as select * from incoming where false'
            )
            con.execute(f'insert into "{schema}"."{table}" by name select * from incoming')
            con.unregister("incoming")


class ModelStoreResource(dg.ConfigurableResource):
    """Where trained models live (ml.lifecycle.ModelRegistry); empty means AW_MODELS_DIR, else
    data/models."""

    models_dir: str = ""

    @property
    def path(self) -> Path:
        return context.resolve_path(self.models_dir) if self.models_dir else context.models_dir()


class AsOfConfig(dg.Config):
    """The run's "now" for every recency, window and label. Leave empty to use AW_AS_OF, else the
    time the run was created (the same for every step of the run)."""

    as_of: str = ""


def parse_as_of(text: str) -> datetime:
    """An ISO date or date-time, naive UTC; a clear error otherwise."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise dg.Failure(f"as_of must be an ISO date or date-time (e.g. 2026-06-30), got {text!r}") from error
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def resolve_as_of(context: dg.AssetExecutionContext, config: AsOfConfig) -> datetime:
    text = config.as_of or os.environ.get("AW_AS_OF", "")
    if text:
        return parse_as_of(text)
    record = context.instance.get_run_record_by_id(context.run.run_id)
    created = record.create_timestamp if record else datetime.now(UTC)
    return created.astimezone(UTC).replace(tzinfo=None, microsecond=0)
