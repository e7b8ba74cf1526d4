"""Reading generated landing files back for the datagen tests (DuckDB, every column as text)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import yaml

from datagen import DirtConfig, GeneratorConfig, generate

REPO = Path(__file__).resolve().parents[2]
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
EMAIL = r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$"
AS_OF = "2026-06-30 00:00:00"


def contract() -> dict[tuple[str, str], list[str]]:
    """Column lists of every source table, read from the staging source YAML (the contract)."""
    tables = {}
    for path in sorted((REPO / "models" / "staging").glob("*/_*.yml")):
        for source in yaml.safe_load(path.read_text()).get("sources", []):
            for table in source["tables"]:
                tables[(source["name"], table["name"])] = [column["name"] for column in table["columns"]]
    return tables


def run(out: Path, **options) -> GeneratorConfig:
    """Generate into out/landing with the truth in out/ground_truth; returns the config used."""
    options.setdefault("progress", False)
    config = GeneratorConfig(out=out / "landing", **options)
    generate(config)
    return config


def clean(**rates: float) -> DirtConfig:
    return DirtConfig.none().with_rates(rates)


def files_of(landing: Path, source: str, table: str) -> list[Path]:
    folder = landing / source
    single = sorted(folder.glob(f"{table}.*"))
    return single + sorted((folder / table).glob("part-*")) if (folder / table).is_dir() else single


def connect(landing: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with one all-text view per table (`crm__contacts`, ...) over its files,
    plus a `file` and 0-based `row` column to meet the dirt locators."""
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    # every accepted timestamp form of docs/conventions.md, as a UTC timestamp (null when not accepted)
    con.execute(
        r"""create macro ts(v) as coalesce(
            try_strptime(v, ['%Y-%m-%dT%H:%M:%SZ', '%Y-%m-%dT%H:%M:%S.%fZ', '%Y-%m-%d %H:%M:%S',
                             '%d/%m/%Y %H:%M', '%Y-%m-%d', '%d/%m/%Y', '%d.%m.%Y']),
            try_strptime(v, '%Y-%m-%dT%H:%M:%S%z')::timestamp,
            case when regexp_full_match(v, '\d{9,10}') then to_timestamp(v::bigint)::timestamp end)"""
    )
    for (source, table), columns in contract().items():
        paths = files_of(landing, source, table)
        if not paths:
            continue
        selects = []
        for path in paths:
            relative = path.relative_to(landing).as_posix()
            if path.suffix == ".csv":
                types = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
                reader = f"read_csv('{path}', header=true, columns={{{types}}}, quote='\"', escape='\"')"
            elif path.suffix == ".parquet":
                reader = f"read_parquet('{path}')"
            else:
                types = ", ".join(f"'{c}': 'VARCHAR'" for c in columns)
                reader = f"read_json('{path}', format='newline_delimited', columns={{{types}}})"
            selects.append(
                f"select {', '.join(columns)}, '{relative}' as file, "
                f"(row_number() over () - 1)::bigint as row from {reader}"
            )
        con.execute(f"create view {source}__{table} as " + " union all ".join(selects))
    truth = landing.parent / "ground_truth"
    for name in ("customers", "future_orders", "dirt"):
        con.execute(f"create view truth_{name} as select * from read_parquet('{truth / name}.parquet')")
    return con


def scalar(con: duckdb.DuckDBPyConnection, sql: str):
    return con.execute(sql).fetchone()[0]


def digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under folder (relative path -> hash)."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
