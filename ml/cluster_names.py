"""Human names for clusters, from how their medians differ from the population's.

A marketer reads "Bargain Hunters (High Spend)", not "cluster 3": names come from trait scores
(the cluster's median against the population median, one feature per trait), matched to
archetypes, and are unique and deterministic by construction. A name is a claim: "Lapsed Buyers"
is only given to a cluster whose median recency is worse than the population's, and
`name_claims` says what each name claims so that a test can check it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.features import SKEWED_FEATURES, FeatureSpec, signed_log1p

# One feature per trait, so that a name says something checkable: "Lapsing" means the cluster's
# median days since the last order is above the buyers' median, nothing else.
TRAITS: dict[str, tuple[str, float]] = {
    # trait: (feature, sign): the trait is high when sign x (cluster median - population median) > 0
    "recent": ("recency_days", -1.0),
    "frequent": ("frequency_orders", 1.0),
    "spend": ("monetary_total", 1.0),
    "basket": ("avg_order_value", 1.0),
    "discount": ("discount_order_share", 1.0),
    "browsing": ("product_views_30d", 1.0),
    "tenure": ("tenure_days", 1.0),
    "email": ("email_open_rate_90d", 1.0),
}
DESCRIPTORS = {
    "recent": ("Recent", "Lapsing"),
    "frequent": ("Frequent", "Occasional"),
    "spend": ("High Spend", "Low Spend"),
    "basket": ("Big Baskets", "Small Baskets"),
    "discount": ("Deal-Driven", "Full-Price"),
    "browsing": ("Heavy Browsers", "Light Browsers"),
    "tenure": ("Long-Standing", "Newer"),
    "email": ("Email-Engaged", "Email-Quiet"),
}
# What each archetype claims about its cluster: trait -> +1 (above the population median) or -1.
ARCHETYPE_CLAIMS: dict[str, dict[str, int]] = {
    "High-Value Loyalists": {"spend": 1, "frequent": 1, "recent": 1},
    "New Customers": {"tenure": -1},
    "Lapsed Buyers": {"recent": -1},
    "Bargain Hunters": {"discount": 1},
    "Window Shoppers": {"browsing": 1, "frequent": -1},
    "Engaged Subscribers": {"email": 1},
    "Steady Regulars": {},
}
PROSPECTS = "Prospects"
ARCHETYPE_THRESHOLD = 0.2


def is_buyer(df: pd.DataFrame) -> np.ndarray:
    """Customers with a completed order before the cutoff; everyone else is a prospect, put in
    the prospects group by this rule rather than by clustering (never buying is not a behaviour
    to find: it is known, and it would dominate every distance)."""
    if "frequency_orders" in df.columns:
        return pd.to_numeric(df["frequency_orders"], errors="coerce").fillna(0).to_numpy() > 0
    if "recency_days" in df.columns:
        return df["recency_days"].notna().to_numpy()
    return np.ones(len(df), dtype=bool)


def _robust_scale(x: np.ndarray) -> float:
    q1, q3 = np.nanquantile(x, [0.25, 0.75])
    scale = q3 - q1
    return float(scale if scale > 0 else np.nanstd(x))


def trait_scores(df: pd.DataFrame, ids: np.ndarray, population: np.ndarray | None = None) -> pd.DataFrame:
    """Per cluster: each trait's sign x (cluster median - population median) in population
    interquartile ranges (standard deviations when the IQR is 0), skewed features log1p'd first.
    `population` (a mask of rows, default all) is what the medians are compared with: the buyers
    when prospects are grouped by rule. A trait whose feature is absent or constant is left out."""
    skew = set(SKEWED_FEATURES)
    population = np.ones(len(df), dtype=bool) if population is None else np.asarray(population, dtype=bool)
    uniq = np.unique(ids)
    out = {}
    for trait, (col, sign) in TRAITS.items():
        if col not in df.columns:
            continue
        x = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
        if col in skew:
            x = signed_log1p(x)
        pop = x[population]
        if not np.isfinite(pop).any():
            continue
        scale = _robust_scale(pop)
        if not np.isfinite(scale) or scale <= 1e-9:
            continue
        medians = pd.Series(x).groupby(ids).median().reindex(uniq).to_numpy()
        out[trait] = sign * (medians - np.nanmedian(pop)) / scale
    return pd.DataFrame(out, index=uniq).fillna(0.0)


def _archetype_scores(t: pd.Series) -> dict[str, float]:
    """How well a cluster fits each archetype; a name applies only above ARCHETYPE_THRESHOLD, and
    a positive score implies every claim of ARCHETYPE_CLAIMS holds."""
    g = t.get
    s = {
        "High-Value Loyalists": min(g("spend", 0), g("frequent", 0), g("recent", 0)),
        "New Customers": -g("tenure", 0) - max(g("frequent", 0), 0.0),
        "Lapsed Buyers": -g("recent", 0),
        "Bargain Hunters": g("discount", 0),
        # browse more and buy less than the median buyer: heavy browsers who also buy a lot are
        # best customers, not window shoppers
        "Window Shoppers": min(g("browsing", 0), -g("frequent", 0)),
        "Engaged Subscribers": g("email", 0) - max(g("frequent", 0), 0.0),
    }
    return {k: float(v) for k, v in s.items()}


def name_claims(name: str) -> dict[str, int]:
    """What a cluster name says about the cluster's medians against the population: trait -> +1
    (above) or -1 (below), from its archetype and its descriptor in parentheses."""
    base, _, rest = name.partition(" (")
    base = base.rstrip("0123456789# ").strip()
    claims = dict(ARCHETYPE_CLAIMS.get(base, {}))
    descriptor = rest.split(")")[0]
    for trait, (high, low) in DESCRIPTORS.items():
        if descriptor == high:
            claims[trait] = 1
        elif descriptor == low:
            claims[trait] = -1
    return claims


def name_clusters(
    df: pd.DataFrame, ids: np.ndarray, spec: FeatureSpec | None = None, population: np.ndarray | None = None
) -> dict[int, str]:
    """Deterministic, unique human names from the clusters' medians against the population.

    Archetypes are matched one-to-one greedily by fit score (ties by name, then cluster id);
    a cluster left without an archetype, or whose best fit is below the threshold, takes its best
    archetype (or 'Steady Regulars') plus its most distinctive trait, e.g. 'Bargain Hunters
    (High Spend)', only if that trait differs from the population's median; any remaining clash
    gets a number. Every word of a name is true of the cluster's medians (name_claims).
    """
    traits = trait_scores(df, ids, population)
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
        best_arche, best_sc = max(scores[c].items(), key=lambda kv: (kv[1], kv[0]), default=("", 0.0))
        base = best_arche if best_sc > ARCHETYPE_THRESHOLD else "Steady Regulars"
        row = traits.loc[c]
        claimed = ARCHETYPE_CLAIMS.get(base, {})
        free = [t for t in row.index if t not in claimed and abs(row[t]) > 1e-9]
        if free:
            trait = max(free, key=lambda t: (abs(row[t]), t))
            names[c] = f"{base} ({DESCRIPTORS[trait][0 if row[trait] > 0 else 1]})"
        else:
            names[c] = base
    seen: dict[str, int] = {}
    for c in sorted(names):
        nm = names[c]
        seen[nm] = seen.get(nm, 0) + 1
        if seen[nm] > 1:
            names[c] = f"{nm} {seen[nm]}"
    if len(set(names.values())) != len(names):
        names = {c: f"{nm} #{c}" for c, nm in names.items()}
    return names
