"""Synthetic frames with the columns of the ml/ input contracts, for tests and benchmarks.

The customers come from ml.synthetic_population (hidden personas with buy-till-you-die purchase
processes); this module reads from them the features and labels at each cutoff, the transactions,
the hidden truth and a product catalog with interactions, so every frame is mutually consistent and
there is real signal to find. This is not the project's data generator (datagen/ is); it only
exists so ml/ can be tested and benchmarked alone. Vectorized: 1M customers take about a minute.

Every frame comes from one random stream drawn in a fixed order (the population, features at each
cutoff, then products and interactions): any reordering changes every test's data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ml.features import CUTOFF, KEY
from ml.synthetic_population import CATEGORIES, PERSONA_NAMES, Population, draw_population, numbered_keys

WEB_COLUMNS = [
    "web_sessions_30d",
    "product_views_30d",
    "add_to_cart_30d",
    "cart_abandons_30d",
    "days_since_last_seen",
]
EMAIL_COLUMNS = [
    "email_delivered_90d",
    "email_open_rate_90d",
    "email_click_rate_90d",
    "days_since_last_email_engagement",
]


@dataclass
class SyntheticData:
    customer_features: pd.DataFrame
    customer_labels: pd.DataFrame
    transactions: pd.DataFrame
    interactions: pd.DataFrame
    products: pd.DataFrame
    truth: pd.DataFrame
    as_of: pd.Timestamp


def make_synthetic(
    n_customers: int,
    *,
    seed: int = 0,
    as_of: str = "2026-01-01",
    n_cutoffs: int = 6,
    cutoff_step_days: int = 30,
    history_days: int = 900,
    n_products: int = 500,
    with_web: bool = True,
    with_email: bool = True,
    with_interactions: bool = True,
) -> SyntheticData:
    """Generate every input frame for `n_customers`; deterministic for a given seed."""
    rng = np.random.default_rng(seed)
    n = n_customers
    H = float(history_days)
    origin = pd.Timestamp(as_of) - pd.Timedelta(days=history_days)
    population = draw_population(rng, n, H)
    keys, tc, tt, rev = population.keys, population.tc, population.tt, population.rev

    obs = tt < H
    transactions = pd.DataFrame(
        {
            KEY: pd.array(keys[tc[obs]], dtype="str"),
            "ordered_at": origin + pd.to_timedelta(np.round(tt[obs] * 86400), unit="s"),
            "revenue": rev[obs],
        }
    )

    features, labels = [], []
    cutoffs = [H - k * cutoff_step_days for k in range(n_cutoffs)][::-1]
    for c in cutoffs:
        f, lab = _features_at(c, rng, population)
        f[CUTOFF] = origin + pd.Timedelta(days=c)
        features.append(f)
        if c + 30 <= H:
            lab[CUTOFF] = origin + pd.Timedelta(days=c)
            labels.append(lab)
    customer_features = pd.concat(features, ignore_index=True)
    if not with_web:
        customer_features = customer_features.drop(columns=WEB_COLUMNS)
    if not with_email:
        customer_features = customer_features.drop(columns=EMAIL_COLUMNS)
    customer_labels = pd.concat(labels, ignore_index=True)

    fut30 = (tt >= H) & (tt < H + 30)
    fut90 = (tt >= H) & (tt < H + 90)
    fut365 = (tt >= H) & (tt < H + 365)
    truth = pd.DataFrame(
        {
            KEY: pd.array(keys, dtype="str"),
            "persona": pd.array(np.array(PERSONA_NAMES, dtype=object)[population.persona], dtype="str"),
            "purchased_next_30d": np.bincount(tc[fut30], minlength=n) > 0,
            "orders_next_30d": np.bincount(tc[fut30], minlength=n),
            "revenue_next_90d": np.bincount(tc[fut90], weights=rev[fut90], minlength=n),
            "orders_next_365d": np.bincount(tc[fut365], minlength=n),
            "revenue_next_365d": np.bincount(tc[fut365], weights=rev[fut365], minlength=n),
            "alive_at_as_of": population.alive_at(H),
        }
    )

    products, interactions = _catalog_and_interactions(
        rng, n_products, population, obs, origin, H, with_interactions
    )
    return SyntheticData(
        customer_features, customer_labels, transactions, interactions, products, truth, pd.Timestamp(as_of)
    )


def _window(tc, tt, vals, lo, hi, n):
    m = (tt >= lo) & (tt < hi)
    if vals is None:
        return np.bincount(tc[m], minlength=n).astype(float)
    return np.bincount(tc[m], weights=vals[m], minlength=n)


def _features_at(c: float, rng: np.random.Generator, p: Population):
    """customer_features and customer_labels rows at cutoff day `c` of the customers signed up by then."""
    n = len(p.keys)
    seen = p.signup <= c
    past = p.tt < c
    pc, pt = p.tc[past], p.tt[past]
    cnt = np.bincount(pc, minlength=n).astype(float)
    total = np.bincount(pc, weights=p.rev[past], minlength=n)
    last = np.full(n, -np.inf)
    np.maximum.at(last, pc, pt)
    firstp = np.full(n, np.inf)
    np.minimum.at(firstp, pc, pt)
    ndisc = np.bincount(pc, weights=p.discounted[past].astype(float), minlength=n)
    bought = cnt > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        aov = np.where(bought, total / cnt, np.nan)
        between = np.where(cnt >= 2, (last - firstp) / (cnt - 1), np.nan)
        disc_share = np.where(bought, ndisc / cnt, np.nan)
    o30 = _window(p.tc, p.tt, None, c - 30, c, n)
    active = p.dropout_at > c
    factor = np.where(active, 1.0, 0.15) * (1 + 0.5 * (o30 > 0))
    sessions = rng.poisson(p.browse_i * factor)
    views = rng.poisson(sessions * 3.0)
    carts = rng.binomial(views, 0.12)
    tenure = c - p.signup
    last_seen = np.where(
        sessions > 0, rng.uniform(0, 30, n) / np.maximum(sessions, 1), 30 + rng.exponential(60, n)
    )
    last_seen = np.minimum(last_seen, np.maximum(tenure, 0))
    delivered = rng.poisson(12, n)
    opens = rng.binomial(delivered, p.open_i * np.where(active, 1.0, 0.4))
    clicks = rng.binomial(opens, 0.2)
    with np.errstate(invalid="ignore", divide="ignore"):
        open_rate = np.where(delivered > 0, opens / delivered, np.nan)
        click_rate = np.where(delivered > 0, clicks / delivered, np.nan)
    since_email = np.where(opens > 0, rng.exponential(90.0 / (opens + 1)), 90 + rng.exponential(90, n))
    monetary = np.round(total, 2)
    tier = np.select(
        [~bought, monetary < 100, monetary < 500, monetary < 2000],
        [None, "bronze", "silver", "gold"],
        "platinum",
    ).astype(object)
    fav = np.where(bought, np.array(CATEGORIES, dtype=object)[p.fav_cat], None)
    nulls = rng.random(n) < 0.03
    f = pd.DataFrame(
        {
            KEY: p.keys,
            "tenure_days": np.floor(tenure),
            "recency_days": np.where(bought, np.floor(c - last), np.nan),
            "frequency_orders": cnt,
            "monetary_total": monetary,
            "avg_order_value": aov,
            "orders_30d": o30,
            "orders_90d": _window(p.tc, p.tt, None, c - 90, c, n),
            "orders_365d": _window(p.tc, p.tt, None, c - 365, c, n),
            "revenue_90d": _window(p.tc, p.tt, p.rev, c - 90, c, n),
            "revenue_365d": _window(p.tc, p.tt, p.rev, c - 365, c, n),
            "avg_days_between_orders": between,
            "discount_order_share": disc_share,
            "refund_share": np.where(bought, p.refund_share, np.nan),
            "distinct_categories_bought": np.minimum(
                cnt, 1 + rng.binomial(np.maximum(cnt - 1, 0).astype(int), 0.3)
            ),
            "web_sessions_30d": sessions.astype(float),
            "product_views_30d": views.astype(float),
            "add_to_cart_30d": carts.astype(float),
            "cart_abandons_30d": np.maximum(carts - o30, 0).astype(float),
            "days_since_last_seen": np.floor(last_seen),
            "email_delivered_90d": delivered.astype(float),
            "email_open_rate_90d": open_rate,
            "email_click_rate_90d": click_rate,
            "days_since_last_email_engagement": np.floor(since_email),
            "behaviour_score": np.round(
                0.4 * np.log1p(views) + 0.8 * np.log1p(o30) + 0.3 * np.log1p(opens), 4
            ),
            "age_years": np.where(rng.random(n) < 0.1, np.nan, p.age),
            "country": np.where(nulls, None, p.country),
            "loyalty_tier": tier,
            "income_band": np.where(rng.random(n) < 0.15, None, p.income),
            "preferred_device": p.device,
            "favourite_category": fav,
        }
    )
    nxt = (p.tt >= c) & (p.tt < c + 30)
    orders_next = np.bincount(p.tc[nxt], minlength=n)
    lab = pd.DataFrame(
        {
            KEY: p.keys,
            "purchased_next_30d": orders_next > 0,
            "orders_next_30d": orders_next.astype("int64"),
            "revenue_next_30d": np.bincount(p.tc[nxt], weights=p.rev[nxt], minlength=n),
        }
    )
    for frame in (f, lab):
        frame[KEY] = pd.array(frame[KEY], dtype="str")
    for col in ("country", "loyalty_tier", "income_band", "preferred_device", "favourite_category"):
        f[col] = pd.array(f[col], dtype="str")
    return f.loc[seen].reset_index(drop=True), lab.loc[seen].reset_index(drop=True)


def _catalog_and_interactions(
    rng: np.random.Generator,
    n_products: int,
    p: Population,
    observed: np.ndarray,
    origin: pd.Timestamp,
    H: float,
    enabled: bool,
):
    """Products, and purchase, cart and view interactions of the observed history."""
    tc, tt = p.tc[observed], p.tt[observed]
    n_cat = len(CATEGORIES)
    pcat = np.arange(n_products) % n_cat
    pop = rng.pareto(1.2, n_products) + 1.0
    products = pd.DataFrame(
        {
            "product_id": pd.array(numbered_keys(n_products, "SKU-", 5), dtype="str"),
            "product_name": pd.array(np.char.add("Product ", np.arange(n_products).astype(str)), dtype="str"),
            "category": pd.array(np.array(CATEGORIES, dtype=object)[pcat], dtype="str"),
            "active": rng.random(n_products) >= 0.05,
        }
    )
    if not enabled:
        empty = pd.DataFrame({KEY: [], "product_id": [], "interaction": [], "occurred_at": []})
        return products, empty.astype({"occurred_at": "datetime64[us]"})
    # Each customer has a favourite and a second category; items inside a category follow a
    # heavy-tailed popularity. Item-to-item structure therefore exists (same-category co-purchase)
    # that global popularity cannot see.
    second = (p.fav_cat + 1 + rng.integers(0, n_cat - 1, p.fav_cat.size)) % n_cat
    by_cat = [np.flatnonzero(pcat == c) for c in range(n_cat)]
    cum = [np.cumsum(pop[ix]) / pop[ix].sum() for ix in by_cat]
    gcum = np.cumsum(pop) / pop.sum()

    def draw(cust):
        u = rng.random(cust.size)
        which = np.where(u < 0.65, p.fav_cat[cust], np.where(u < 0.9, second[cust], -1))
        out = np.empty(cust.size, dtype=np.int64)
        glob = which < 0
        out[glob] = np.minimum(np.searchsorted(gcum, rng.random(glob.sum())), n_products - 1)
        for c in range(n_cat):
            m = which == c
            if m.any():
                pos = np.minimum(np.searchsorted(cum[c], rng.random(m.sum())), len(by_cat[c]) - 1)
                out[m] = by_cat[c][pos]
        return out

    items_per = 1 + rng.poisson(0.4, tc.size)
    pc = np.repeat(tc, items_per)
    pt = np.repeat(tt, items_per)
    pitem = draw(pc)
    nview = rng.poisson(p.browse_i * 1.5 + 1.0)
    vc = np.repeat(np.arange(p.keys.size), nview)
    stop = np.minimum(H, p.dropout_at + 30)
    vt = p.signup[vc] + rng.random(vc.size) * np.maximum(stop[vc] - p.signup[vc], 0)
    vitem = draw(vc)
    cart = rng.random(vc.size) < 0.15
    cust = np.concatenate([pc, vc])
    item = np.concatenate([pitem, vitem])
    kind = np.concatenate([np.zeros(pc.size, np.int8), np.where(cart, 1, 2).astype(np.int8)])
    when = np.concatenate([pt, vt])
    interactions = pd.DataFrame(
        {
            KEY: pd.array(p.keys[cust], dtype="str"),
            "product_id": products["product_id"].to_numpy()[item],
            "interaction": pd.array(np.array(["purchase", "cart", "view"], dtype=object)[kind], dtype="str"),
            "occurred_at": origin + pd.to_timedelta(np.round(when * 86400), unit="s"),
        }
    )
    return products, interactions
