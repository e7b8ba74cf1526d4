"""The core marts the way a data scientist would write them: pandas, one frame per landing table,
groupby and merge. Same rules and inputs as the floor (bench/references/floor.sql), same scope."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from bench.references.inputs import Inputs, LandedTable

CLEAN_DATA_ONLY = "(the references read data generated with --dirt none)"
GENDERS = {
    **dict.fromkeys(("f", "female", "w", "woman"), "female"),
    **dict.fromkeys(("m", "male", "man"), "male"),
    **dict.fromkeys(("x", "other", "non-binary", "nonbinary", "diverse"), "other"),
}


def read(table: LandedTable) -> pd.DataFrame:
    if table.format == "csv":
        frames = [pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]) for p in table.paths]
    elif table.format == "parquet":
        frames = [pd.read_parquet(p) for p in table.paths]
    else:
        frames = [pd.read_json(p, lines=True, dtype=False) for p in table.paths]
    return pd.concat(frames, ignore_index=True)


def _refuse(bad: pd.Series, values: pd.Series, problem: str) -> None:
    """Stop on what the references cannot handle rather than drop it."""
    if bad.any():
        raise ValueError(f"{problem}: {int(bad.sum())} rows, e.g. {values[bad].iloc[0]!r}")


def timestamps(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_localize(None)


def customer_keys(contact_ids: pd.Series) -> pd.Series:
    """'cus_' + the first 20 hex digits of md5('contact:' + id), as the warehouse names customers."""
    unique = contact_ids.dropna().unique()
    names = {c: "cus_" + hashlib.md5(f"contact:{c}".encode()).hexdigest()[:20] for c in unique}
    return contact_ids.map(names)


def quintile(values: pd.Series, ascending: bool = True) -> pd.Series:
    """1-5 by rank among buyers, ties equal: least(5, 1 + floor(5 * (rank - 1) / (n - 1)))."""
    ranks = values.rank(method="min", ascending=ascending)
    if len(values) < 2:
        return pd.Series(1, index=values.index)
    return np.minimum(5, 1 + np.floor(5 * (ranks - 1) / (len(values) - 1))).astype(int)


def contacts_at(inputs: Inputs) -> pd.DataFrame:
    raw = read(inputs.tables["contacts"])
    raw["updated_at"] = timestamps(raw["updated_at"])
    current = (
        raw[raw["updated_at"] < inputs.as_of]
        .sort_values("updated_at")
        .drop_duplicates("contact_id", keep="last")
    )
    return pd.DataFrame(
        {
            "customer_key": customer_keys(current["contact_id"]),
            "customer_type": "crm_contact",
            "gender": current["gender"].str.lower().map(GENDERS),
            "birth_date": pd.to_datetime(current["birth_date"]),
            "country_code": current["country"].str.upper(),
            "city": current["city"],
            "postal_code": current["postal_code"].str.upper(),
            "income_band": current["income_band"].str.lower(),
            "loyalty_tier": current["loyalty_tier"].str.lower(),
            "signup_at": timestamps(current["signup_at"]),
        }
    ).reset_index(drop=True)


def orders_at(inputs: Inputs) -> pd.DataFrame:
    orders = read(inputs.tables["orders"])
    orders["ordered_at"] = timestamps(orders["ordered_at"])
    orders["known_at"] = np.maximum(
        orders["ordered_at"], timestamps(orders["updated_at"]).fillna(orders["ordered_at"])
    )
    orders["order_status"] = orders["status"].str.lower()
    statuses = pd.read_csv(inputs.seeds / "order_statuses.csv")
    orders = orders.merge(
        statuses, left_on="order_status", right_on="status", how="left", suffixes=("", "_seed")
    )
    _refuse(orders["precedence"].isna(), orders["order_status"], "unknown order status")
    _refuse(orders["contact_id"].isna(), orders["order_id"], f"an order without contact_id {CLEAN_DATA_ONLY}")
    orders = orders[orders["known_at"] < inputs.as_of]
    orders = orders.sort_values(["known_at", "precedence"]).drop_duplicates("order_id", keep="last")

    rates = pd.read_csv(inputs.seeds / "currency_rates.csv", parse_dates=["valid_from"])
    orders["currency_code"] = orders["currency"].str.upper()
    orders = pd.merge_asof(
        orders.sort_values("ordered_at"),
        rates.sort_values("valid_from"),
        left_on="ordered_at",
        right_on="valid_from",
        by="currency_code",
    )
    usd = rates[rates["currency_code"] == "USD"].sort_values("valid_from")
    orders = pd.merge_asof(
        orders,
        usd[["valid_from", "usd_per_unit"]],
        left_on="ordered_at",
        right_on="valid_from",
        suffixes=("", "_usd"),
    )
    _refuse(orders["usd_per_unit"].isna(), orders["currency_code"], "no rate for")
    rate = orders["usd_per_unit"] / orders["usd_per_unit_usd"]
    orders["total_reporting"] = (orders["total"].astype(float) * rate).round(2)
    orders["customer_key"] = customer_keys(orders["contact_id"])
    return orders[["customer_key", "ordered_at", "order_status", "is_purchase", "total_reporting"]]


def profiles(contacts: pd.DataFrame, orders: pd.DataFrame) -> pd.DataFrame:
    purchases = orders[orders["is_purchase"]]
    summary = purchases.groupby("customer_key").agg(
        first_order_at=("ordered_at", "min"),
        last_order_at=("ordered_at", "max"),
        lifetime_orders=("ordered_at", "size"),
        lifetime_revenue=("total_reporting", "sum"),
    )
    refunded = (
        orders[orders["order_status"] == "refunded"].groupby("customer_key").size().rename("refunded_orders")
    )
    frame = contacts.join(summary, on="customer_key").join(refunded, on="customer_key")
    frame["lifetime_orders"] = frame["lifetime_orders"].fillna(0).astype(int)
    frame["lifetime_revenue"] = frame["lifetime_revenue"].fillna(0).round(2)
    frame["average_order_value"] = (
        frame["lifetime_revenue"] / frame["lifetime_orders"].replace(0, np.nan)
    ).round(2)
    frame["refunded_orders"] = frame["refunded_orders"].fillna(0).astype(int)
    return frame


def rfm(contacts: pd.DataFrame, orders: pd.DataFrame, inputs: Inputs) -> pd.DataFrame:
    since = inputs.as_of - pd.Timedelta(days=inputs.vars["rfm_lookback_days"])
    purchases = orders[orders["is_purchase"] & (orders["ordered_at"] >= since)]
    buyers = purchases.groupby("customer_key").agg(
        frequency=("ordered_at", "size"),
        monetary=("total_reporting", "sum"),
        first_purchase_at=("ordered_at", "min"),
        last_purchase_at=("ordered_at", "max"),
    )
    buyers["monetary"] = buyers["monetary"].round(2)
    buyers["recency_days"] = (
        pd.Timestamp(inputs.as_of).normalize() - buyers["last_purchase_at"].dt.normalize()
    ).dt.days
    buyers["r_score"] = quintile(buyers["recency_days"], ascending=False)
    buyers["f_score"] = quintile(buyers["frequency"])
    buyers["m_score"] = quintile(buyers["monetary"])
    buyers["fm_score"] = np.floor((buyers["f_score"] + buyers["m_score"]) / 2 + 0.5).astype(int)
    buyers["rfm_cell"] = (
        buyers["r_score"].astype(str) + buyers["f_score"].astype(str) + buyers["m_score"].astype(str)
    )
    segment_map = pd.read_csv(inputs.seeds / "rfm_segment_map.csv")
    buyers = buyers.reset_index().merge(segment_map, on=["r_score", "fm_score"], how="left")
    buyers["rfm_segment"] = buyers["rfm_segment"].fillna("Unclassified")
    frame = contacts[["customer_key"]].merge(buyers, on="customer_key", how="left")
    frame["rfm_segment"] = frame["rfm_segment"].fillna("No Purchases Yet")
    frame["frequency"] = frame["frequency"].fillna(0).astype(int)
    frame["monetary"] = frame["monetary"].fillna(0)
    for score in ("r_score", "f_score", "m_score", "fm_score"):
        frame[score] = frame[score].astype("Int64")
    return frame


def campaign_engagement(inputs: Inputs) -> pd.DataFrame:
    events = read(inputs.tables["events"])
    events["event_at"] = timestamps(events["event_at"])
    events = events[events["event_at"] < inputs.as_of]
    _refuse(
        events["contact_id"].isna(),
        events["event_id"],
        f"an e-mail event without contact_id {CLEAN_DATA_ONLY}",
    )
    events["customer_key"] = customer_keys(events["contact_id"])
    by = ["customer_key", "campaign_id"]
    first = events.pivot_table(index=by, columns="event_type", values="event_at", aggfunc="min")
    bounced = events[events["event_type"] == "bounce"].groupby(by).size().reindex(first.index).notna()
    sent = first["sent"] if "sent" in first else pd.Series(pd.NaT, index=first.index)
    delivered = first["delivered"] if "delivered" in first else pd.Series(pd.NaT, index=first.index)
    delivered_at = delivered.fillna(sent.where(~bounced)).rename("delivered_at")

    opens = events[events["event_type"] == "open"].merge(delivered_at.reset_index(), on=by, how="left")
    seconds = (opens["event_at"] - opens["delivered_at"]).dt.total_seconds()
    opens["is_machine"] = opens["delivered_at"].notna() & (
        seconds <= inputs.vars["machine_open_max_seconds_after_delivery"]
    )
    campaigns = delivered_at.to_frame()
    campaigns["first_human_open_at"] = opens[~opens["is_machine"]].groupby(by)["event_at"].min()
    campaigns["machine_opens"] = opens[opens["is_machine"]].groupby(by).size()
    campaigns["machine_opens"] = campaigns["machine_opens"].fillna(0)
    campaigns["first_click_at"] = first.get("click", pd.NaT)
    return campaigns.reset_index()


def engagement(contacts: pd.DataFrame, orders: pd.DataFrame, inputs: Inputs) -> pd.DataFrame:
    campaigns = campaign_engagement(inputs)
    strangers = ~campaigns["customer_key"].isin(contacts["customer_key"])
    _refuse(
        strangers, campaigns["customer_key"], f"e-mails to people the CRM does not hold {CLEAN_DATA_ONLY}"
    )
    window_start = inputs.as_of - pd.Timedelta(days=inputs.vars["engagement_window_days"])
    windowed = (
        campaigns[campaigns["delivered_at"] >= window_start]
        .groupby("customer_key")
        .agg(
            emails_delivered=("campaign_id", "size"),
            emails_opened=("first_human_open_at", "count"),
            emails_clicked=("first_click_at", "count"),
            machine_opens=("machine_opens", "sum"),
        )
    )
    lifetime = campaigns.groupby("customer_key").agg(
        last_open_at=("first_human_open_at", "max"), last_click_at=("first_click_at", "max")
    )
    recent_since = inputs.as_of - pd.Timedelta(days=inputs.vars["engagement_recent_purchase_days"])
    recent = set(orders.loc[orders["is_purchase"] & (orders["ordered_at"] >= recent_since), "customer_key"])

    frame = contacts[["customer_key"]].join(windowed, on="customer_key").join(lifetime, on="customer_key")
    for count in ("emails_delivered", "emails_opened", "emails_clicked", "machine_opens"):
        frame[count] = frame[count].fillna(0).astype(int)
    delivered = frame["emails_delivered"].replace(0, np.nan)
    frame["open_rate"] = (frame["emails_opened"] / delivered).fillna(0.0)
    frame["click_rate"] = (frame["emails_clicked"] / delivered).fillna(0.0)
    frame["last_engagement_at"] = frame[["last_open_at", "last_click_at"]].max(axis=1)
    frame["has_recent_purchase"] = frame["customer_key"].isin(recent)

    tiers = pd.read_csv(inputs.seeds / "engagement_tiers.csv").sort_values("tier_rank")
    frame["engagement_tier"] = None
    frame["recommended_sends_per_week"] = np.nan
    for tier in tiers.itertuples():
        opens_ok = (
            frame["open_rate"] > tier.min_open_rate
            if tier.open_rate_strictly_above
            else frame["open_rate"] >= tier.min_open_rate
        )
        clicks_ok = (
            frame["click_rate"] > tier.min_click_rate
            if tier.click_rate_strictly_above
            else frame["click_rate"] >= tier.min_click_rate
        )
        purchase_ok = frame["has_recent_purchase"] | (not tier.requires_recent_purchase)
        first_match = frame["engagement_tier"].isna() & opens_ok & clicks_ok & purchase_ok
        frame.loc[first_match, "engagement_tier"] = tier.engagement_tier
        frame.loc[first_match, "recommended_sends_per_week"] = float(tier.recommended_sends_per_week)
    return frame


def segments(
    profiles: pd.DataFrame, rfm: pd.DataFrame, engagement: pd.DataFrame, inputs: Inputs
) -> pd.DataFrame:
    v, as_of = inputs.vars, pd.Timestamp(inputs.as_of)
    buyers = profiles[profiles["lifetime_orders"] > 0]
    threshold = buyers["lifetime_revenue"].quantile(v["high_value_revenue_percentile"])
    joined = engagement.merge(rfm[["customer_key", "recency_days"]], on="customer_key")
    members = {
        "at_risk_lapsing": rfm.loc[rfm["rfm_segment"].isin(v["at_risk_rfm_segments"]), "customer_key"],
        "engaged_but_inactive": joined.loc[
            (joined["emails_opened"] >= v["engaged_inactive_min_emails_opened"])
            & (joined["open_rate"] >= v["engaged_inactive_min_open_rate"])
            & (
                joined["recency_days"].isna()
                | (joined["recency_days"] > v["engaged_inactive_days_without_purchase"])
            ),
            "customer_key",
        ],
        "high_value_repeat_buyers": buyers.loc[
            (buyers["lifetime_orders"] >= v["high_value_min_orders"])
            & (buyers["lifetime_revenue"] >= threshold),
            "customer_key",
        ],
        "new_customers": profiles.loc[
            profiles["first_order_at"] >= as_of - pd.Timedelta(days=v["new_customer_days"]), "customer_key"
        ],
        "win_back": profiles.loc[
            (profiles["last_order_at"] < as_of - pd.Timedelta(days=v["win_back_min_days_since_purchase"]))
            & (profiles["last_order_at"] >= as_of - pd.Timedelta(days=v["win_back_max_days_since_purchase"])),
            "customer_key",
        ],
    }
    return pd.concat(
        [pd.DataFrame({"segment_name": name, "customer_key": keys.values}) for name, keys in members.items()],
        ignore_index=True,
    )


def run_pandas(inputs: Inputs) -> dict[str, pd.DataFrame]:
    """The four marts as data frames."""
    contacts = contacts_at(inputs)
    orders = orders_at(inputs)
    strangers = ~orders["customer_key"].isin(contacts["customer_key"])
    _refuse(
        strangers,
        orders["customer_key"],
        f"orders of people the CRM does not hold at as_of {CLEAN_DATA_ONLY}",
    )
    customer_profiles = profiles(contacts, orders)
    customer_rfm = rfm(contacts, orders, inputs)
    customer_engagement = engagement(contacts, orders, inputs)
    return {
        "customer_profiles": customer_profiles,
        "customer_rfm": customer_rfm,
        "customer_engagement": customer_engagement,
        "segment_membership": segments(customer_profiles, customer_rfm, customer_engagement, inputs),
    }
