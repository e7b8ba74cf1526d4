"""The floor: bench/references/floor.sql run by DuckDB on the landing files, in memory.

The script reads each landing file once (as text, the way the files are), so what it costs is the
least a warehouse must spend on these marts; the only Python here defines the readers and the
parameters."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd

from bench.references.inputs import Inputs, LandedTable
from warehouse.context import apply_engine_settings

SCRIPT = Path(__file__).with_name("floor.sql")
MARTS = ("customer_profiles", "customer_rfm", "customer_engagement", "segment_membership")
SEEDS = ("currency_rates", "order_statuses", "rfm_segment_map", "engagement_tiers")


def _paths(table: LandedTable) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in table.paths) + "]"


def reader(table: LandedTable) -> str:
    """A DuckDB table function reading every file of a table with every column as text."""
    if table.format == "csv":
        return f"read_csv({_paths(table)}, header = true, all_varchar = true)"
    if table.format == "parquet":
        return f"read_parquet({_paths(table)})"
    columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in table.columns) + "}"
    return f"read_json({_paths(table)}, format = 'newline_delimited', columns = {columns})"


def seed_reader(name: str, seeds: Path) -> str:
    """A seed as dbt loads it: typed by DuckDB's CSV sniffer (booleans, numbers, dates)."""
    path = seeds / f"{name}.csv"
    return f"read_csv('{path}', header = true)"


def connect(inputs: Inputs, spill_beside: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the project's engine settings (memory limit, threads, spill
    directory beside `spill_beside`), the same dbt runs with, so the comparison is like for like."""
    con = duckdb.connect()
    if spill_beside:
        apply_engine_settings(con, spill_beside)
    for name, table in inputs.tables.items():
        con.execute(f"create view landed_{name} as select * from {reader(table)}")
    for name in SEEDS:
        con.execute(f"create view seed_{name} as select * from {seed_reader(name, inputs.seeds)}")
    con.execute("set variable as_of = ?::timestamp", [inputs.as_of])
    for name, value in inputs.vars.items():
        con.execute(f"set variable {name} = ?", [value])
    return con


def run_floor(inputs: Inputs, spill_beside: Path | None = None) -> dict[str, pd.DataFrame]:
    """The four marts as data frames."""
    with connect(inputs, spill_beside) as con:
        con.execute(SCRIPT.read_text())
        return {mart: con.execute(f"select * from {mart}").df() for mart in MARTS}
