"""The activation tables on Spark (AW_ENGINE=spark): the statements of activation/state.py, run
on an in-memory DuckDB copy of the activation tables that each committed transaction writes back to
the Spark catalog (the tables it changed, replaced whole, through warehouse/engine.py).

Why a copy: the sync state needs upserts, deletes and all-or-nothing transactions, which plain
Parquet tables on Spark do not have (Delta or Iceberg would, with MERGE). Running the same
statements on a copy keeps one definition of every state rule for both engines, and no DuckDB file
is opened or written. What it costs, and so where it fits: the copy holds the activation tables in
this process's memory for the step, and a transaction rewrites every table it changed, so it suits
a single-team's lists rather than a cluster's millions of members; the rewrite of two tables is not
atomic, and a crash during a rewrite can lose that table's rows (the next run then re-adds members,
which the diff makes idempotent at the ESP). One process may write the activation tables at a time:
a local session's steps are serialized by the warehouse pool; on a cluster, run the activation
steps one at a time (README, "Running at cluster scale")."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pandas as pd

from activation.state import Warehouse
from activation.state_tables import SCHEMA, TABLES, create_tables
from warehouse.engine import SparkEngine, arrow_for_spark, arrow_like_duckdb


class SparkStateWarehouse(Warehouse):
    """Warehouse (activation/state.py) whose connection is the in-memory copy; the Spark session
    is opened at first use and stopped by close()."""

    def __init__(self, engine: SparkEngine | None = None):
        super().__init__("spark-catalog")
        self.engine = engine or SparkEngine()
        self._copy: duckdb.DuckDBPyConnection | None = None
        self._fingerprints: dict[str, tuple] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return "SparkStateWarehouse(activation tables of the Spark catalog)"

    def _fingerprint(self, name: str) -> tuple:
        return self._copy.execute(f"SELECT count(*), sum(hash(t)) FROM {SCHEMA}.{name} AS t").fetchone()

    def _load(self) -> duckdb.DuckDBPyConnection:
        """The copy: the tables as state_tables.py declares them (keys included), filled from Spark."""
        copy = duckdb.connect()
        create_tables(copy)
        stored = [name for name in TABLES if self.engine.table_exists(SCHEMA, name)]
        for name in stored:
            rows = self.engine.read_arrow(f"SELECT * FROM {SCHEMA}.{name}")
            copy.register("stored", arrow_like_duckdb(rows))
            copy.execute(f"INSERT INTO {SCHEMA}.{name} BY NAME SELECT * FROM stored")
            copy.unregister("stored")
        self._copy = copy
        self._fingerprints = {name: self._fingerprint(name) for name in stored}
        return copy

    def _write_back(self) -> None:
        """Every table whose rows changed (or that Spark does not have yet), replaced whole."""
        for name in TABLES:
            fingerprint = self._fingerprint(name)
            if self._fingerprints.get(name) == fingerprint:
                continue
            rows = self._copy.execute(f"SELECT * FROM {SCHEMA}.{name}").fetch_arrow_table()
            self.engine.write_table(SCHEMA, name, arrow_for_spark(rows))
            self._fingerprints[name] = fingerprint

    @contextmanager
    def held(self) -> Iterator[None]:
        """The copy is held already, from its first use to close()."""
        yield

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The copy, one caller at a time (the push runs batches in threads); after a caller that
        may write, the tables it changed go back to Spark. A failed write-back drops the copy, so
        the next caller starts again from what Spark holds."""
        with self._lock:
            copy = self._copy or self._load()
            yield copy
            if read_only:
                return
            try:
                self._write_back()
            except BaseException:
                self._copy = None
                copy.close()
                raise

    def erased_addresses(self, emails: pd.Series) -> set[str]:
        """Warehouse.erased_addresses, hashed by Spark's privacy.erasure_hash (the function dbt
        installs from macros/privacy/erasure.sql, so the hash has one definition)."""
        spark = self.engine.spark
        if not (
            spark.catalog.functionExists("privacy.erasure_hash")
            and self.engine.table_exists("privacy", "erasure_tombstones")
        ):
            return set()
        with self.connect(read_only=True) as copy:
            rows = copy.execute(f"SELECT DISTINCT member_key FROM {SCHEMA}.sync_state").fetchall()
        known = [key for (key,) in rows]
        candidates = sorted(set(emails.dropna().astype(str)) | set(known))
        if not candidates:
            return set()
        spark.createDataFrame(pd.DataFrame({"email": candidates})).createOrReplaceTempView("candidate_emails")
        found = spark.sql(
            """SELECT email FROM candidate_emails
               WHERE privacy.erasure_hash('email', email) IN (
                   SELECT identifier_hash FROM privacy.erasure_tombstones
                   WHERE identifier_type = 'email')"""
        ).collect()
        spark.catalog.dropTempView("candidate_emails")
        return {row.email for row in found}

    def close(self) -> None:
        with self._lock:
            if self._copy is not None:
                self._copy.close()
                self._copy = None
            self.engine.close()
