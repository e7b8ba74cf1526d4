"""Human names for clusters, from their dominant behavioural traits.

A marketer reads "Bargain Hunters (High Spend)", not "cluster 3": names come from trait z-scores
of the cluster means, matched to archetypes, and are unique and deterministic by construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features import SKEWED_FEATURES, FeatureSpec, signed_log1p

TRAITS: dict[str, tuple[tuple[str, float], ...]] = {
    # trait: (feature, sign) pairs averaged as z-scores of cluster means
    "recent": (("recency_days", -1.0), ("days_since_last_seen", -0.5)),
    "frequent": (("frequency_orders", 1.0), ("orders_365d", 1.0)),
    "spend": (("monetary_total", 1.0), ("avg_order_value", 1.0)),
    "discount": (("discount_order_share", 1.0),),
    "browsing": (("web_sessions_30d", 1.0), ("product_views_30d", 1.0), ("add_to_cart_30d", 1.0)),
    "tenure": (("tenure_days", 1.0),),
    "email": (("email_open_rate_90d", 1.0), ("email_click_rate_90d", 1.0)),
}
DESCRIPTORS = {
    "recent": ("Recent", "Lapsing"),
    "frequent": ("Frequent", "Occasional"),
    "spend": ("High Spend", "Low Spend"),
    "discount": ("Deal-Driven", "Full-Price"),
    "browsing": ("Heavy Browsers", "Light Browsers"),
    "tenure": ("Long-Standing", "Newer"),
    "email": ("Email-Engaged", "Email-Quiet"),
}
ARCHETYPE_THRESHOLD = 0.2


def trait_scores(df: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """Per cluster: trait z-scores (cluster mean of the log1p'd feature minus the overall mean,
    in overall standard deviations) and the share of customers who ever bought."""
    skew = set(SKEWED_FEATURES)
    out = {}
    uniq = np.unique(ids)
    for trait, parts in TRAITS.items():
        zs = []
        for col, sign in parts:
            if col not in df.columns:
                continue
            x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            if col in skew:
                x = signed_log1p(x)
            sd, mu = np.nanstd(x), np.nanmean(x)
            if not np.isfinite(sd) or sd <= 1e-9 * max(1.0, abs(mu)):
                continue
            s = pd.Series(x).groupby(ids).mean().reindex(uniq).to_numpy()
            zs.append(sign * (s - mu) / sd)
        if zs:
            stacked = np.vstack(zs)
            have = np.isfinite(stacked)
            out[trait] = np.where(have, stacked, 0.0).sum(axis=0) / np.maximum(have.sum(axis=0), 1)
    if "frequency_orders" in df.columns:
        bought = pd.to_numeric(df["frequency_orders"], errors="coerce").fillna(0).to_numpy() > 0
    elif "recency_days" in df.columns:
        bought = df["recency_days"].notna().to_numpy()
    else:
        bought = np.ones(len(df), dtype=bool)
    out["buyer_share"] = pd.Series(bought.astype(float)).groupby(ids).mean().reindex(uniq).to_numpy()
    return pd.DataFrame(out, index=uniq).fillna(0.0)


def _archetype_scores(t: pd.Series) -> dict[str, float]:
    """How well a cluster fits each archetype; a name applies only above ARCHETYPE_THRESHOLD."""
    g = t.get
    s = {
        "High-Value Loyalists": min(g("spend", 0), g("frequent", 0)) if g("recent", 0) > 0 else 0.0,
        "New Customers": -g("tenure", 0) - max(g("frequent", 0), 0.0),
        "Lapsed Buyers": -g("recent", 0) if g("buyer_share", 1) >= 0.5 else 0.0,
        "Bargain Hunters": g("discount", 0) if g("buyer_share", 1) >= 0.5 else 0.0,
        # browse more and buy less than the average customer: heavy browsers who also buy a lot are
        # best customers, not window shoppers
        "Window Shoppers": min(g("browsing", 0), -g("frequent", 0)),
        "Prospects": 2 * (0.5 - g("buyer_share", 1)),
        "Engaged Subscribers": g("email", 0) - max(g("frequent", 0), 0.0),
    }
    return {k: float(v) for k, v in s.items()}


def name_clusters(df: pd.DataFrame, ids: np.ndarray, spec: FeatureSpec | None = None) -> dict[int, str]:
    """Deterministic, unique human names from dominant traits.

    Archetypes are matched one-to-one greedily by fit score (ties by name, then cluster id);
    a cluster left without an archetype, or whose best fit is below the threshold, takes its best
    archetype (or 'Steady Regulars') plus its most distinctive trait, e.g. 'Bargain Hunters
    (High Spend)'; any remaining clash gets a number.
    """
    traits = trait_scores(df, ids)
    scores = {int(c): _archetype_scores(traits.loc[c]) for c in traits.index}
    pairs = sorted(
        ((sc, arche, c) for c, d in scores.items() for arche, sc in d.items() if sc > ARCHETYPE_THRESHOLD),
        key=lambda p: (-p[0], p[1], p[2]),
    )
    names: dict[int, str] = {}
    used: set[str] = set()
    for _, arche, c in pairs:
        if c not in names and arche not in used:
            names[c] = arche
            used.add(arche)
    for c in sorted(scores):
        if c in names:
            continue
        best_arche, best_sc = max(scores[c].items(), key=lambda kv: (kv[1], kv[0]))
        base = best_arche if best_sc > ARCHETYPE_THRESHOLD else "Steady Regulars"
        row = traits.loc[c].drop("buyer_share")
        trait = max(row.index, key=lambda t: (abs(row[t]), t))
        names[c] = f"{base} ({DESCRIPTORS[trait][0 if row[trait] >= 0 else 1]})"
    seen: dict[str, int] = {}
    for c in sorted(names):
        nm = names[c]
        seen[nm] = seen.get(nm, 0) + 1
        if seen[nm] > 1:
            names[c] = f"{nm} {seen[nm]}"
    if len(set(names.values())) != len(names):
        names = {c: f"{nm} #{c}" for c, nm in names.items()}
    return names
