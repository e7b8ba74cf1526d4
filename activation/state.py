"""The activation tables in the DuckDB warehouse (schema `activation`): one method per
transaction the engine needs, so every statement over the activation schema is here (their DDL and
column lists in activation/state_tables.py).

Every method opens a connection, does one transaction and closes it. A sync keeps the file open
for its whole length (`held`), so that each of those connections is a cursor on it instead of the
file opened again; nothing holds the file between steps. Opening retries for a while when another
process holds the write lock."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from activation.state_tables import LIST_STATE_COLUMNS, RESULT_COLUMNS, STATE_COLUMNS, create_tables
from warehouse.context import connect

log = logging.getLogger("activation.state")


def _insert_row(con: duckdb.DuckDBPyConnection, table: str, row: dict, replace: bool = False) -> None:
    """One row from a dict of column values (INSERT OR REPLACE when `replace`)."""
    columns = list(row)
    con.execute(
        f"INSERT {'OR REPLACE ' if replace else ''}INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})",
        [row[c] for c in columns],
    )


def _is_lock_error(error: BaseException) -> bool:
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


class Warehouse:
    """The activation tables of one DuckDB file."""

    def __init__(self, path: str | Path, lock_wait_seconds: float = 60.0):
        self.path = Path(path)
        self.lock_wait_seconds = lock_wait_seconds
        self._schema_ready = False
        self._held: duckdb.DuckDBPyConnection | None = None
        self._held_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Warehouse({str(self.path)!r})"

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting for another process's write lock."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        retrying = Retrying(
            retry=retry_if_exception(_is_lock_error),
            stop=stop_after_delay(self.lock_wait_seconds),
            wait=wait_random_exponential(multiplier=0.05, max=2.0),
            reraise=True,
        )
        return retrying(connect, Path(self.path), read_only=read_only)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep the file open for a whole sync. Each transaction still gets a connection of its
        own (a cursor on the open file), but opening the file for each one cost about 50 ms (its
        catalog read, a checkpoint at close): a dry run of 30 tiny lists spent 4 of its 7 s doing
        that. The file stays locked meanwhile, as the step's pool holds it anyway."""
        if self._held is not None:
            yield
            return
        self._held = self._open(read_only=False)
        try:
            yield
        finally:
            with self._held_lock:
                held, self._held = self._held, None
            held.close()

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the held file, or the file opened for this caller alone; closed after.
        The push calls this from several threads: each gets a cursor of its own."""
        with self._held_lock:
            con = self._held.cursor() if self._held is not None else None
        if con is None:
            con = self._open(read_only)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.ensure_schema()
        with self.connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self.connect() as con:
            con.execute("CREATE SCHEMA IF NOT EXISTS activation")
            legacy = con.execute(
                "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'activation' "
                "AND table_name = 'erasure_log' AND column_name = 'customer_key'"
            ).fetchone()[0]
            if legacy:
                # The first erasure log kept customer keys in plain text: an erased person's
                # residue. Dropping it only means the next run re-sends idempotent deletions.
                con.execute("DROP TABLE activation.erasure_log")
            create_tables(con)
        self._schema_ready = True

    def query(self, sql: str, params: list | None = None) -> pd.DataFrame:
        self.ensure_schema()
        with self.connect() as con:
            return con.execute(sql, params or []).df()

    def close(self) -> None:
        """Nothing held between transactions (the Spark variant holds its session)."""

    # state ---------------------------------------------------------------------------------------

    def state_lists(self) -> pd.DataFrame:
        """The (destination, list) pairs the state knows."""
        return self.query("SELECT DISTINCT destination, list_key FROM activation.sync_state")

    def list_context(self, destination: str, list_key: str) -> tuple[pa.Table, tuple[str, bool] | None]:
        """The list's sync state (an Arrow table: the diff joins it in DuckDB) and its ESP id (if
        known), read together."""
        self.ensure_schema()
        with self.connect() as con:
            state = con.execute(
                f"""SELECT {", ".join(LIST_STATE_COLUMNS)}
                    FROM activation.sync_state WHERE destination = ? AND list_key = ?""",
                [destination, list_key],
            ).to_arrow_table()
            found = con.execute(
                """SELECT esp_list_id, created_by_us FROM activation.destination_lists
                   WHERE destination = ? AND list_key = ?""",
                [destination, list_key],
            ).fetchone()
        return state, ((str(found[0]), bool(found[1])) if found else None)

    def start_list(
        self, run_row: dict, results: pd.DataFrame, assignments: pd.DataFrame, run_id: str
    ) -> None:
        """Open a list's run: the sync_runs row, the excluded rows' results and the holdout
        assignments, in one transaction."""
        with self.transaction() as con:
            self._write_run(con, run_row)
            if not results.empty:
                self._insert_results(con, results)
            if not assignments.empty:
                self._record_assignments(con, assignments, run_id)

    def esp_state(
        self, destination: str, emails: Iterable[str], customer_keys: Iterable[str], marker_list: str
    ) -> pd.DataFrame:
        """The state rows of one destination the suppression pass can touch, across all its lists:
        those whose address is in `emails` or whose customer key is in `customer_keys` (the
        suppression frame's), and every row of `marker_list` (the ESP-wide suppression rows, done
        or pending). Filtered here, so an ESP's whole state never has to leave the warehouse."""
        emails_table = pa.table({"email": pa.array(list(emails), type=pa.string())})
        keys_table = pa.table({"customer_key": pa.array(list(customer_keys), type=pa.string())})
        self.ensure_schema()
        with self.connect() as con:
            con.register("suppressed_emails", emails_table)
            con.register("suppressed_customers", keys_table)
            state = con.execute(
                """SELECT list_key, member_key, customer_key, esp_record_id, pending
                   FROM activation.sync_state
                   WHERE destination = ? AND (
                       list_key = ?
                       OR member_key IN (SELECT email FROM suppressed_emails)
                       OR customer_key IN (SELECT customer_key FROM suppressed_customers))""",
                [destination, marker_list],
            ).df()
            con.unregister("suppressed_emails")
            con.unregister("suppressed_customers")
        return state

    def insert_pending(self, destination: str, list_key: str, rows: pd.DataFrame, run_id: str) -> None:
        """Mark members about to be added, before any add is sent, so a crash between the ESP's
        acknowledgement and our state write leaves a trace the next run can reconcile."""
        if rows.empty:
            return
        frame = rows[["member_key", "customer_key"]].copy()
        with self.transaction() as con:
            con.register("pending_rows", frame)
            con.execute(
                """INSERT OR IGNORE INTO activation.sync_state
                   (destination, list_key, member_key, customer_key, pending, run_id)
                   SELECT ?, ?, member_key, customer_key, TRUE, ? FROM pending_rows""",
                [destination, list_key, run_id],
            )
            con.unregister("pending_rows")

    def apply_batch(
        self,
        destination: str,
        list_key: str,
        upserts: pd.DataFrame | None = None,
        deletes: list[str] | None = None,
        results: pd.DataFrame | None = None,
    ) -> None:
        """Record one acknowledged batch: synced members, removed members and per-row results in
        one transaction."""
        with self.transaction() as con:
            if upserts is not None and not upserts.empty:
                self._insert_state(con, destination, list_key, upserts, replace=True)
            if deletes:
                con.register("delete_keys", pd.DataFrame({"member_key": pd.Series(deletes, dtype=object)}))
                con.execute(
                    """DELETE FROM activation.sync_state WHERE destination = ? AND list_key = ?
                       AND member_key IN (SELECT member_key FROM delete_keys)""",
                    [destination, list_key],
                )
                con.unregister("delete_keys")
            if results is not None and not results.empty:
                self._insert_results(con, results)

    def replace_list_state(self, destination: str, list_key: str, rows: pd.DataFrame, results: pd.DataFrame):
        """Swap the whole state of a snapshot destination (the file) in one transaction."""
        with self.transaction() as con:
            con.execute(
                "DELETE FROM activation.sync_state WHERE destination = ? AND list_key = ?",
                [destination, list_key],
            )
            if not rows.empty:
                self._insert_state(con, destination, list_key, rows, replace=False)
            if not results.empty:
                self._insert_results(con, results)

    def record_results(self, results: pd.DataFrame) -> None:
        if results.empty:
            return
        with self.transaction() as con:
            self._insert_results(con, results)

    @staticmethod
    def _insert_state(
        con: duckdb.DuckDBPyConnection, destination: str, list_key: str, rows: pd.DataFrame, *, replace: bool
    ) -> None:
        """Members of one list into sync_state; `replace` for a batch that updates members."""
        frame = rows.assign(destination=destination, list_key=list_key)[list(STATE_COLUMNS)]
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        con.register("state_rows", frame)
        con.execute(
            f"{verb} INTO activation.sync_state ({', '.join(STATE_COLUMNS)}) "
            f"SELECT {', '.join(STATE_COLUMNS)} FROM state_rows"
        )
        con.unregister("state_rows")

    @staticmethod
    def _insert_results(con: duckdb.DuckDBPyConnection, results: pd.DataFrame) -> None:
        con.register("result_rows", results[list(RESULT_COLUMNS)])
        con.execute(
            f"INSERT INTO activation.sync_results ({', '.join(RESULT_COLUMNS)}) "
            f"SELECT {', '.join(RESULT_COLUMNS)} FROM result_rows"
        )
        con.unregister("result_rows")

    # lists -----------------------------------------------------------------------------------------

    def save_list_id(
        self, destination: str, list_key: str, esp_list_id: str, name: str, created: bool
    ) -> None:
        with self.transaction() as con:
            con.execute(
                """INSERT OR REPLACE INTO activation.destination_lists
                   (destination, list_key, esp_list_id, esp_list_name, created_by_us)
                   VALUES (?, ?, ?, ?, ?)""",
                [destination, list_key, esp_list_id, name, created],
            )

    # runs ------------------------------------------------------------------------------------------

    def write_run(self, row: dict) -> None:
        with self.transaction() as con:
            self._write_run(con, row)

    @staticmethod
    def _write_run(con: duckdb.DuckDBPyConnection, row: dict) -> None:
        _insert_row(con, "activation.sync_runs", row, replace=True)

    # erasure ---------------------------------------------------------------------------------------

    def erased_addresses(self, emails: pd.Series) -> set[str]:
        """The addresses, among `emails` and the whole sync state, that have an erasure tombstone
        (privacy.erasure_tombstones, hashed with privacy.erasure_hash — both built by dbt): the
        engine's second line of defence after staging has dropped erased people. Empty when the
        warehouse has no tombstones yet."""
        self.ensure_schema()
        with self.connect() as con:
            ready = con.execute(
                "SELECT (SELECT count(*) FROM duckdb_functions() WHERE schema_name = 'privacy' "
                "AND function_name = 'erasure_hash') > 0 AND (SELECT count(*) FROM duckdb_tables() "
                "WHERE schema_name = 'privacy' AND table_name = 'erasure_tombstones') > 0"
            ).fetchone()[0]
            if not ready:
                return set()
            con.register("candidate_emails", pd.DataFrame({"email": emails.dropna().astype(str).unique()}))
            found = con.execute(
                """WITH candidates AS (
                       SELECT email FROM candidate_emails
                       UNION SELECT member_key FROM activation.sync_state)
                   SELECT email FROM candidates
                   WHERE privacy.erasure_hash('email', email) IN (
                       SELECT identifier_hash FROM privacy.erasure_tombstones
                       WHERE identifier_type = 'email')"""
            ).fetchall()
            con.unregister("candidate_emails")
        return {email for (email,) in found}

    def erasures_done(self) -> set[tuple[str, str]]:
        """(tombstone hash, destination) pairs already erased."""
        found = self.query(
            "SELECT DISTINCT email_hash, destination FROM activation.erasure_log WHERE status = 'done'"
        )
        return set(zip(found["email_hash"], found["destination"], strict=True))

    def forget_member(self, destination: str, email: str, log_row: dict) -> int:
        """Drop every state row of one address for one destination and log the erasure, together."""
        with self.transaction() as con:
            removed = con.execute(
                "DELETE FROM activation.sync_state WHERE destination = ? AND member_key = ?",
                [destination, email],
            ).fetchone()
            count = int(removed[0]) if removed else 0
            self._insert_erasure(con, {**log_row, "state_rows_removed": count})
        return count

    def log_erasure(self, row: dict) -> None:
        with self.transaction() as con:
            self._insert_erasure(con, row)

    @staticmethod
    def _insert_erasure(con: duckdb.DuckDBPyConnection, row: dict) -> None:
        _insert_row(con, "activation.erasure_log", row)

    # holdout ---------------------------------------------------------------------------------------

    @staticmethod
    def _record_assignments(con: duckdb.DuckDBPyConnection, assignments: pd.DataFrame, run_id: str) -> int:
        frame = assignments[["campaign_key", "customer_key", "arm", "bucket", "share", "hash_version"]]
        con.register("assignment_rows", frame)
        before = con.execute("SELECT count(*) FROM activation.holdout_assignments").fetchone()[0]
        con.execute(
            """INSERT OR IGNORE INTO activation.holdout_assignments
               (campaign_key, customer_key, arm, bucket, share, hash_version, run_id)
               SELECT DISTINCT campaign_key, customer_key, arm, bucket, share, hash_version, ?
               FROM assignment_rows""",
            [run_id],
        )
        after = con.execute("SELECT count(*) FROM activation.holdout_assignments").fetchone()[0]
        con.unregister("assignment_rows")
        return int(after - before)
