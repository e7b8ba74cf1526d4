"""The activation schema's tables: their DDL, the columns the state and results are written
with, and `create_tables`, which both engines' warehouses run (activation/state.py on the DuckDB
file, activation/state_spark.py on its in-memory copy)."""

from __future__ import annotations

import duckdb

SCHEMA = "activation"

DDL = (
    "CREATE SCHEMA IF NOT EXISTS activation",
    """CREATE TABLE IF NOT EXISTS activation.sync_state (
        destination VARCHAR NOT NULL,
        list_key VARCHAR NOT NULL,
        member_key VARCHAR NOT NULL,
        customer_key VARCHAR,
        esp_record_id VARCHAR,
        payload_hash VARCHAR,
        synced_at TIMESTAMP,
        created_by_us BOOLEAN,
        pending BOOLEAN NOT NULL DEFAULT FALSE,
        run_id VARCHAR,
        PRIMARY KEY (destination, list_key, member_key))""",
    """CREATE TABLE IF NOT EXISTS activation.sync_results (
        run_id VARCHAR NOT NULL,
        destination VARCHAR NOT NULL,
        list_key VARCHAR NOT NULL,
        member_key VARCHAR,
        customer_key VARCHAR,
        action VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        reason VARCHAR,
        recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp)""",
    """CREATE TABLE IF NOT EXISTS activation.sync_runs (
        run_id VARCHAR NOT NULL,
        destination VARCHAR NOT NULL,
        list_key VARCHAR NOT NULL,
        esp_list_id VARCHAR,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        dry_run BOOLEAN NOT NULL,
        forced BOOLEAN NOT NULL,
        rows_in BIGINT,
        eligible BIGINT,
        excluded BIGINT,
        planned_creates BIGINT,
        planned_updates BIGINT,
        planned_removes BIGINT,
        planned_unchanged BIGINT,
        sent BIGINT,
        rejected BIGINT,
        failed BIGINT,
        requests_made BIGINT,
        duration_seconds DOUBLE,
        message VARCHAR,
        PRIMARY KEY (run_id, destination, list_key))""",
    """CREATE TABLE IF NOT EXISTS activation.destination_lists (
        destination VARCHAR NOT NULL,
        list_key VARCHAR NOT NULL,
        esp_list_id VARCHAR NOT NULL,
        esp_list_name VARCHAR,
        created_by_us BOOLEAN NOT NULL,
        recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        PRIMARY KEY (destination, list_key))""",
    """CREATE TABLE IF NOT EXISTS activation.erasure_log (
        email_hash VARCHAR NOT NULL,
        destination VARCHAR NOT NULL,
        processed_at TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,
        reason VARCHAR,
        state_rows_removed BIGINT,
        run_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS activation.holdout_assignments (
        campaign_key VARCHAR NOT NULL,
        customer_key VARCHAR NOT NULL,
        arm VARCHAR NOT NULL,
        bucket DOUBLE NOT NULL,
        share DOUBLE NOT NULL,
        hash_version VARCHAR NOT NULL,
        first_assigned_at TIMESTAMP NOT NULL DEFAULT current_timestamp,
        run_id VARCHAR,
        PRIMARY KEY (campaign_key, customer_key))""",
)

STATE_COLUMNS = (
    "destination",
    "list_key",
    "member_key",
    "customer_key",
    "esp_record_id",
    "payload_hash",
    "synced_at",
    "created_by_us",
    "pending",
    "run_id",
)
# The columns of one list's sync state that the diff reads (Warehouse.list_context).
LIST_STATE_COLUMNS = (
    "member_key",
    "customer_key",
    "esp_record_id",
    "payload_hash",
    "created_by_us",
    "pending",
)
RESULT_COLUMNS = (
    "run_id",
    "destination",
    "list_key",
    "member_key",
    "customer_key",
    "action",
    "status",
    "reason",
)

# The tables, in the order DDL declares them (the name after "activation." in each CREATE TABLE).
TABLES = tuple(
    statement.split(f"{SCHEMA}.", 1)[1].split()[0]
    for statement in DDL
    if statement.startswith("CREATE TABLE")
)


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """The activation schema and its tables, where they do not exist yet."""
    for statement in DDL:
        con.execute(statement)
