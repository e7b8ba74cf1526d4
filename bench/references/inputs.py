"""What both references read, found the way the pipeline finds it: the landing files of each table
(landing.contract + landing.files, so every format and part layout the pipeline accepts), the seeds
and the dbt vars the marts use (read from dbt_project.yml, so a changed threshold moves all three).

The references skip identity resolution and dirt handling: they are meant for landing data
generated with `--dirt none` (datagen), where every contact is one CRM row per version, every
order and event carries its contact id and every value is in its canonical form. They refuse what
they cannot read rather than guess (a cast that fails stops them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from landing.contract import load_contract
from landing.files import discover_files

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "seeds"
TABLES = {("crm", "contacts"), ("orders", "orders"), ("email", "events")}
VARS = (
    "rfm_lookback_days",
    "engagement_window_days",
    "engagement_recent_purchase_days",
    "machine_open_max_seconds_after_delivery",
    "engaged_inactive_min_open_rate",
    "engaged_inactive_min_emails_opened",
    "engaged_inactive_days_without_purchase",
    "high_value_min_orders",
    "high_value_revenue_percentile",
    "at_risk_rfm_segments",
    "new_customer_days",
    "win_back_min_days_since_purchase",
    "win_back_max_days_since_purchase",
)
# Segments the references compute: those defined on the three marts alone. Cart and browse
# abandoners need sessionized web events, the ML segments need model scores: out of scope.
SEGMENTS = (
    "at_risk_lapsing",
    "engaged_but_inactive",
    "high_value_repeat_buyers",
    "new_customers",
    "win_back",
)


@dataclass(frozen=True)
class LandedTable:
    format: str
    paths: list[Path]
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Inputs:
    as_of: dt.datetime
    tables: dict[str, LandedTable]
    vars: dict
    seeds: Path = SEEDS


def dbt_vars() -> dict:
    declared = yaml.safe_load((REPO / "dbt_project.yml").read_text())["vars"]
    return {name: declared[name] for name in VARS}


def landed_tables(landing: Path) -> dict[str, LandedTable]:
    """`contacts`, `orders`, `events` -> their files; one format per table (a reference reads one
    reader per table), which is how datagen writes them."""
    found = {}
    for table in load_contract():
        if (table.source, table.table) not in TABLES:
            continue
        files = discover_files(landing, table)
        formats = {f.format for f in files}
        if len(formats) != 1:
            raise SystemExit(f"{table.name}: expected files of one format, found {formats or 'none'}")
        found[table.table] = LandedTable(formats.pop(), sorted(f.path for f in files), table.columns)
    return found


def inputs_for(landing: Path, as_of: dt.datetime) -> Inputs:
    return Inputs(as_of=as_of.replace(tzinfo=None), tables=landed_tables(landing), vars=dbt_vars())
