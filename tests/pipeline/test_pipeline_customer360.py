"""The Customer 360 marts on generated data, checked against independent Python recomputations and
the generator's hidden truth, plus idempotency and membership history across runs."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from tests.pipeline.helpers import query

REBUILT_SCHEMAS = ("staging", "intermediate", "marts", "segments", "audit")


def frame(warehouse, sql: str) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def test_reconciliation_balances_every_table_with_all_dirt_enabled(demo_run):
    rows = frame(demo_run.warehouse, "select * from audit.source_reconciliation")
    assert len(rows) == 8
    assert (rows["rows_unaccounted"] == 0).all(), rows
    landed = rows.set_index(["source_name", "table_name"])["rows_landed"]
    assert landed[("crm", "contacts")] > 0 and landed[("web", "events")] > 0


def test_every_injected_defect_is_handled_as_its_kind_requires(demo_run):
    dirt = pd.read_parquet(demo_run.truth / "dirt.parquet")
    quarantined = frame(
        demo_run.warehouse, "select table_name, rejection_rule, row_key from audit.quarantined_rows"
    )

    def quarantined_keys(table: str, rules: tuple[str, ...]) -> set[str]:
        hits = quarantined[(quarantined.table_name == table) & quarantined.rejection_rule.isin(rules)]
        return set(hits.row_key)

    def keys(kind: str) -> set[str]:
        return set(dirt.loc[dirt.dirt_kind == kind, "key"].dropna())

    assert keys("negative_total") <= quarantined_keys("orders", ("negative_total",))
    assert keys("absurd_total") <= quarantined_keys("orders", ("implausible_total",))
    assert keys("unknown_currency") <= quarantined_keys("orders", ("unknown_currency",))
    unparseable_orders = set(
        dirt.loc[(dirt.dirt_kind == "unparseable_timestamp") & (dirt["table"] == "orders"), "key"]
    )
    assert unparseable_orders <= quarantined_keys("orders", ("unparseable_ordered_at",))
    assert keys("unknown_event_type") <= quarantined_keys("events", ("unknown_event_type",))
    orphan_orders = {
        key.split("#")[0] for key in quarantined_keys("order_items", ("orphan_line_order_not_landed",))
    }
    assert {key.split("/")[0] for key in keys("orphan_item")} <= orphan_orders
    missing_ids = (dirt.dirt_kind == "missing_contact_id").sum()
    assert len(quarantined_keys("contacts", ("missing_contact_id",))) == missing_ids

    invalid = frame(
        demo_run.warehouse, "select contact_id from staging.stg_crm__contacts where not is_email_valid"
    )
    assert keys("invalid_email") <= set(invalid.contact_id)
    consent = frame(
        demo_run.warehouse,
        "select details.contact_id, profiles.consent_status from marts.customer_profiles as profiles "
        "inner join restricted.customer_contact_details as details using (customer_key) "
        "where details.contact_id is not null",
    ).set_index("contact_id")["consent_status"]
    for contact_id in keys("invalid_email"):
        assert consent.get(contact_id, "erased") in ("invalid_email", "erased", "complained", "bounced")
    bots = frame(demo_run.warehouse, "select events from audit.web_traffic_filtered where outcome = 'bot'")
    assert bots.events.sum() >= (dirt.dirt_kind == "bot_traffic").sum() > 0
    machine = frame(
        demo_run.warehouse,
        "select count(*) as n from intermediate.int_email_events_classified where is_machine_open",
    )
    assert machine.n[0] >= 0.9 * (dirt.dirt_kind == "machine_opens").sum() > 0


def _quintile(values: pd.Series, ascending: bool) -> pd.Series:
    rank = values.rank(method="min", ascending=ascending)
    span = max(len(values) - 1, 1)
    return np.minimum(5, 1 + (5 * (rank - 1)) // span).astype(int)


def test_rfm_recomputed_in_python_matches_the_mart(demo_run):
    from warehouse.context import PROJECT_DIR

    as_of = pd.Timestamp(demo_run.as_of)
    orders = frame(
        demo_run.warehouse,
        "select customer_key, ordered_at, total_reporting, is_purchase "
        "from intermediate.int_orders_attributed",
    )
    customers = set(
        frame(demo_run.warehouse, "select customer_key from marts.customer_profiles").customer_key
    )
    purchases = orders[
        orders.is_purchase
        & orders.customer_key.isin(customers)
        & (orders.ordered_at >= as_of - timedelta(days=730))
    ]
    summary = purchases.groupby("customer_key").agg(
        last=("ordered_at", "max"), frequency=("ordered_at", "size"), monetary=("total_reporting", "sum")
    )
    summary["recency_days"] = (as_of.normalize() - summary["last"].dt.normalize()).dt.days
    summary["r_score"] = _quintile(summary.recency_days, ascending=False)
    summary["f_score"] = _quintile(summary.frequency, ascending=True)
    summary["m_score"] = _quintile(summary.monetary.astype(float), ascending=True)
    summary["fm_score"] = np.floor((summary.f_score + summary.m_score) / 2 + 0.5).astype(int)
    segment_map = pd.read_csv(PROJECT_DIR / "seeds" / "rfm_segment_map.csv")
    expected = summary.reset_index().merge(segment_map, on=["r_score", "fm_score"], how="left")

    mart = frame(
        demo_run.warehouse,
        "select customer_key, recency_days, frequency, monetary, r_score, f_score, m_score, fm_score, "
        "rfm_segment "
        "from marts.customer_rfm where r_score is not null",
    )
    merged = expected.merge(mart, on="customer_key", suffixes=("_py", "_sql"), how="outer", indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    for column in ("recency_days", "frequency", "r_score", "f_score", "m_score", "fm_score", "rfm_segment"):
        mismatched = merged[merged[f"{column}_py"] != merged[f"{column}_sql"]]
        assert mismatched.empty, (column, mismatched.head())
    assert np.allclose(merged.monetary_py.astype(float), merged.monetary_sql.astype(float), atol=0.005)
    assert len(merged) > 100
    no_purchase = frame(
        demo_run.warehouse, "select count(*) as n from marts.customer_rfm where r_score is null"
    ).n[0]
    assert no_purchase == len(customers) - len(merged)


@pytest.mark.parametrize("hours", [24, 48])
def test_cart_abandonment_recomputed_in_python_matches_the_segment(demo_run, hours):
    as_of = pd.Timestamp(demo_run.as_of)
    carts = frame(
        demo_run.warehouse,
        "select customer_key, event_at as added_at from intermediate.int_web_events_attributed "
        "where is_usable and event_type = 'add_to_cart'",
    )
    signals = frame(
        demo_run.warehouse,
        "select customer_key, ordered_at as purchased_at from intermediate.int_orders_attributed "
        "where is_purchase and customer_key is not null "
        "union all select customer_key, event_at from intermediate.int_web_events_attributed "
        "where is_usable and event_type = 'purchase'",
    )
    recent = carts[carts.added_at >= as_of - timedelta(days=7)].copy()
    next_purchase = []
    for row in recent.itertuples():
        later = signals[(signals.customer_key == row.customer_key) & (signals.purchased_at > row.added_at)]
        next_purchase.append(later.purchased_at.min() if len(later) else pd.NaT)
    recent["next_purchase"] = next_purchase
    window = timedelta(hours=hours)
    abandoned = recent[
        (as_of - recent.added_at >= window)
        & (recent.next_purchase.isna() | (recent.next_purchase - recent.added_at > window))
    ]
    customers = set(
        frame(demo_run.warehouse, "select customer_key from marts.customer_profiles").customer_key
    )
    expected = set(abandoned.customer_key) & customers
    actual = set(
        frame(
            demo_run.warehouse,
            "select customer_key from marts.segment_membership "
            f"where segment_name = 'cart_abandoners_{hours}h'",
        ).customer_key
    )
    assert actual == expected
    assert len(recent) > 0


def test_every_public_mart_is_built(demo_run):
    counts = dict(
        query(
            demo_run.warehouse,
            "select table_name, estimated_size from duckdb_tables() where schema_name = 'marts'",
        )
    )
    marts = [
        "customer_profiles",
        "customer_rfm",
        "customer_engagement",
        "customer_features",
        "customer_labels",
        "segments",
        "segment_membership",
        "segment_membership_history",
        "segment_overlap",
        "campaign_performance",
    ]
    for mart in marts:
        assert counts.get(mart, 0) > 0, mart
