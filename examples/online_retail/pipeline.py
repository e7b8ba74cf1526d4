"""Running the unchanged pipeline on the mapped files, in a warehouse of the example's own, and
summarizing what it made of them. The example only sets the environment `make run` reads, so it
exercises exactly the code a user's own data would go through."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from warehouse import context
from warehouse.context import PROJECT_DIR, connect

RFM_SEGMENT_COLUMNS = ("rfm_segment", "segment", "segment_name")


def example_environment(out: Path, as_of: str, reporting_currency: str) -> dict[str, str]:
    """Every place and setting of the example's run, all under `out`: its landing files,
    warehouse, models, file exports and the snapshot it publishes beside its warehouse."""
    warehouse = out.resolve() / "warehouse.duckdb"
    env = {
        context.LANDING_ENV: str(out.resolve() / "landing"),
        context.WAREHOUSE_ENV: str(warehouse),
        context.MODELS_ENV: str(out.resolve() / "models"),
        context.ACTIVATION_FILES_ENV: str(out.resolve() / "activation"),
        context.PUBLISHED_ENV: str(warehouse.parent / "published" / warehouse.name),
        context.AS_OF_ENV: as_of,
    }
    if reporting_currency:
        env[context.REPORTING_CURRENCY_ENV] = reporting_currency
    return env


def run_pipeline(out: Path, as_of: str, reporting_currency: str = "") -> int:
    """`python -m orchestration.run_pipeline` in this process, pointed at the example's places."""
    os.environ.update(example_environment(out, as_of, reporting_currency))
    home = Path(os.environ.setdefault("DAGSTER_HOME", str(PROJECT_DIR / "data" / "dagster_home")))
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        shutil.copy(PROJECT_DIR / "orchestration" / "dagster.yaml", home / "dagster.yaml")

    from orchestration.run_pipeline import main

    return main(["--as-of", as_of])


def _tables(
    con: duckdb.DuckDBPyConnection, schema: str, kinds: tuple[str, ...] = ("BASE TABLE", "VIEW")
) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ? "
            "and list_contains(?, table_type) order by 1",
            [schema, list(kinds)],
        ).fetchall()
    ]


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    ]


def _table(rows: list[tuple], header: tuple[str, ...]) -> list[str]:
    texts = [tuple(f"{v:,}" if isinstance(v, int) else str(v) for v in row) for row in [header, *rows]]
    widths = [max(len(row[i]) for row in texts) for i in range(len(header))]
    return [
        "  "
        + "  ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))
        for row in texts
    ]


def _unmapped_countries(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    """Raw country spellings staging could not map, from the base model; empty when it is shaped
    differently (an example's diagnostic must not fail the run)."""
    try:
        return con.execute(
            "select country_spelling, count(*) from staging.base_crm__contacts where rejection_rule is null "
            "and country_spelling is not null and country_code is null group by 1 order by 2 desc, 1"
        ).fetchall()
    except duckdb.Error:
        return []


def summarize(warehouse: Path) -> list[str]:
    """Rows per staging table, quarantine by rule, the reconciliation, and the customer marts when
    they exist (they are optional to this example: skipped, and said so, when absent)."""
    lines: list[str] = []
    with connect(Path(warehouse), read_only=True) as con:
        staging = _tables(con, "staging", ("BASE TABLE",))
        counts = [(t, con.execute(f'select count(*) from staging."{t}"').fetchone()[0]) for t in staging]
        lines += ["Rows per staging table:", *_table([c for c in counts if c[1]], ("table", "rows"))]
        empty = [t for t, n in counts if not n]
        if empty:
            lines.append(f"  (empty: {', '.join(empty)})")

        quarantine = con.execute(
            "select source_name || '/' || table_name, rejected_at, rejection_rule, count(*) "
            "from audit.quarantined_rows group by all order by 1, 4 desc"
        ).fetchall()
        lines += ["", "Quarantined rows by rule:"]
        lines += _table(quarantine, ("table", "layer", "rule", "rows")) if quarantine else ["  none"]

        reconciliation = con.execute(
            "select source_name || '/' || table_name, rows_landed, rows_rejected_at_landing, "
            "rows_quarantined, rows_collapsed_as_duplicates, rows_staged, rows_unaccounted "
            "from audit.source_reconciliation where rows_landed > 0 order by 1"
        ).fetchall()
        lines += ["", "Reconciliation (landed = rejected + quarantined + duplicates collapsed + staged):"]
        lines += _table(
            reconciliation,
            ("table", "landed", "rejected", "quarantined", "duplicates", "staged", "unaccounted"),
        )

        orders, subtotal, total, reporting, guests, guest_reporting = con.execute(
            "select count(*), sum(subtotal), sum(total), sum(total_reporting), "
            "count(*) filter (where contact_id is null and email is null), "
            "coalesce(sum(total_reporting) filter (where contact_id is null and email is null), 0) "
            "from staging.stg_orders__orders where is_purchase"
        ).fetchone()
        short_orders, shortfall = con.execute(
            "select count(*), coalesce(sum(o.subtotal - coalesce(l.amount, 0)), 0) "
            "from staging.stg_orders__orders as o left join (select order_id, sum(quantity * unit_price) "
            "as amount from staging.stg_orders__order_items group by 1) as l using (order_id) "
            "where o.subtotal <> coalesce(l.amount, 0)"
        ).fetchone()
        lines += [
            "",
            f"Purchases staged: {orders:,} completed orders, subtotal £{subtotal:,.2f}, total £{total:,.2f}",
            f"  = {reporting:,.2f} in the reporting currency, of which {guests:,} guest orders (no contact,",
            f"  no e-mail: kept, never attributed to a customer) {guest_reporting:,.2f}.",
            f"Orders whose staged lines add up to less than their subtotal: {short_orders:,}, "
            f"£{shortfall:,.2f} in all (repeated lines collapsed by staging).",
        ]
        unmapped = _unmapped_countries(con)
        if unmapped:
            spelled = ", ".join(f"{spelling} {count:,}" for spelling, count in unmapped)
            lines.append(f"Contacts whose country has no ISO code in staging: {spelled}.")

        marts = _tables(con, "marts")
        lines.append("")
        if "customer_profiles" in marts:
            profiles = con.execute("select count(*) from marts.customer_profiles").fetchone()[0]
            lines.append(f"marts.customer_profiles: {profiles:,} customers")
        else:
            lines.append("marts.customer_profiles: not built in this warehouse yet (skipped)")
        rfm_columns = _columns(con, "marts", "customer_rfm") if "customer_rfm" in marts else []
        segment = next((c for c in RFM_SEGMENT_COLUMNS if c in rfm_columns), None)
        if segment:
            distribution = con.execute(
                f"select coalesce(cast(\"{segment}\" as varchar), '(none)'), count(*) "
                "from marts.customer_rfm group by 1 order by 2 desc"
            ).fetchall()
            lines += [f"marts.customer_rfm by {segment}:", *_table(distribution, ("segment", "customers"))]
        elif "customer_rfm" in marts:
            lines.append("marts.customer_rfm: built, but with no segment column (skipped)")
        else:
            lines.append("marts.customer_rfm: not built in this warehouse yet (skipped)")
    return lines
