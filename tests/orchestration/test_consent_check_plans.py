"""The consent checks stay hash joins at any size: an OR join of members and suppressions is planned
as a nested loop, whose cost grows with the product of the two (148 s for 115k x 40k members, hours
at a million). Each check's query is planned by DuckDB on tables of a realistic size, and any
loop-style join operator fails the test; a deliberate OR join proves the detector sees one."""

from __future__ import annotations

import duckdb
import pytest

from orchestration.assets.activation import CONSENT_VIOLATIONS_SQL
from tests.dbt_cli import run_dbt

# DuckDB's physical operators that compare every pair of rows (or blocks of them).
LOOP_JOINS = ("NESTED_LOOP_JOIN", "PIECEWISE_MERGE_JOIN", "BLOCKWISE_NL_JOIN", "CROSS_PRODUCT")
MEMBERS = 100_000
SUPPRESSIONS = 40_000
OR_JOIN_SQL = """
select members.customer_key
from restricted.audience_export as members
inner join restricted.suppressed_addresses as suppressions
    on members.email = suppressions.email or members.customer_key = suppressions.customer_key
"""


def build_restricted_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Members and suppressions with the columns the checks read, at a size where the planner's
    small-table shortcuts (a nested loop under a handful of rows) do not apply."""
    con.execute("create schema if not exists restricted")
    con.execute(
        f"""create or replace table restricted.audience_export as
        select 'mailchimp' as destination, 'list_' || (i % 10) as list_key, 'c' || i as customer_key,
            'member' || i || '@example.com' as email, date '2026-06-30' as as_of
        from range({MEMBERS}) as members(i)"""
    )
    con.execute(
        f"""create or replace table restricted.suppressed_addresses as
        select 'member' || (i * 3) || '@example.com' as email, 'c' || (i * 7) as customer_key,
            'unsubscribed' as reason
        from range({SUPPRESSIONS}) as suppressions(i)"""
    )


def loop_joins(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    plan = "\n".join(row[1] for row in con.execute(f"explain {sql}").fetchall())
    return [operator for operator in LOOP_JOINS if operator in plan]


@pytest.fixture
def planner(tmp_path):
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        build_restricted_tables(con)
        yield con


def test_the_detector_sees_an_or_join(planner):
    assert loop_joins(planner, OR_JOIN_SQL)


def test_the_dagster_consent_check_is_planned_as_hash_joins(planner):
    assert loop_joins(planner, CONSENT_VIOLATIONS_SQL) == []


@pytest.mark.slow
def test_the_dbt_consent_test_is_planned_as_hash_joins(tmp_path):
    """The dbt test audience_members_are_never_suppressed, compiled by dbt, planned on the same tables
    in a warehouse file of the profile's name (its compiled SQL names the database)."""
    warehouse = tmp_path / "warehouse.duckdb"
    target = tmp_path / "target"
    compiled = run_dbt(
        "compile",
        "--select",
        "audience_members_are_never_suppressed",
        target_path=target,
        env={"AW_WAREHOUSE_PATH": str(warehouse)},
    )
    assert compiled.returncode == 0, compiled.stdout[-3000:]
    (sql_file,) = target.glob("compiled/**/audience_members_are_never_suppressed.sql")
    sql = sql_file.read_text()
    assert "suppressed_addresses" in sql and "audience_export" in sql
    with duckdb.connect(str(warehouse)) as con:
        build_restricted_tables(con)
        assert loop_joins(con, sql) == []
