"""Micro-segments: behavioural clustering of customers with model selection, stability and names.

Procedure (all seeded, all on rows sorted by customer_key so input order cannot matter):
1. Preprocess (signed log1p for skewed columns, median imputation with missing indicators,
   StandardScaler, one-hot for any categoricals) and optionally PCA keeping `pca_variance`.
2. Two hash-based samples of customers: the selection sample (k-means per k, GMM) and the
   smaller evaluation sample (silhouette for every candidate; Ward and HDBSCAN fitted there).
3. k-means for each k in `k_values` (default 4..10): inertia (elbow) and silhouette; k = best
   silhouette among solutions whose smallest cluster holds at least `min_cluster_share` of the
   evaluation sample. On continuous behavioural data silhouette almost always falls with k (the
   best split is buyers vs never-buyers), so the lower end of the range is a product decision:
   the fewest segments worth a distinct message. The final k-means
   is refit on all rows (MiniBatchKMeans above `minibatch_threshold`) from the sample centres.
4. Challengers on the same evaluation sample: Ward (each k), GaussianMixture (each k), HDBSCAN
   (finds its own k; noise points join the nearest cluster mean since everyone needs a segment).
5. Winner = highest silhouette on the evaluation sample among eligible solutions (k inside
   `k_values`, smallest cluster >= `min_cluster_share`, HDBSCAN noise <= `max_noise_share`); k-means
   keeps the title unless a challenger beats it by more than `simplicity_margin`, because it
   scores new customers natively. Ward/HDBSCAN winners are extended to all rows with a
   k-nearest-neighbour classifier trained on the evaluation sample.
6. Stability: mean/std adjusted Rand index between the winner's labels and refits on bootstrap
   resamples of the evaluation sample, compared on the resampled points.
7. Validation: Kruskal-Wallis per numeric feature and chi-square per categorical across clusters,
   with effect sizes (at a million rows every p-value is tiny, the effect size is what matters).
8. Names from the clusters' trait z-scores (see `name_clusters`), unique by construction.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, pairwise_distances, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline

from ml.features import (
    CLUSTER_FEATURES,
    KEY,
    SKEWED_FEATURES,
    FeatureSpec,
    align_columns,
    build_preprocessor,
    latest_cutoff,
    resolve_features,
    signed_log1p,
    stable_unit_hash,
)
from ml.plots import elbow_silhouette_png, pca_scatter_png

log = logging.getLogger(__name__)

PROFILE_FEATURES = (
    "recency_days",
    "frequency_orders",
    "monetary_total",
    "avg_order_value",
    "orders_365d",
    "discount_order_share",
    "web_sessions_30d",
    "product_views_30d",
    "tenure_days",
    "email_open_rate_90d",
)


@dataclass
class ClusteringConfig:
    k_values: Sequence[int] = tuple(range(4, 11))
    selection_sample: int = 50_000
    gmm_sample: int = 8_000
    eval_sample: int = 4_000
    minibatch_threshold: int = 200_000
    pca_variance: float | None = 0.95
    min_cluster_share: float = 0.02
    max_noise_share: float = 0.25
    simplicity_margin: float = 0.01
    algorithms: Sequence[str] = ("kmeans", "ward", "gmm", "hdbscan")
    n_bootstrap: int = 10
    test_sample: int = 200_000
    random_state: int = 42


@dataclass
class ClusterModel:
    """Everything needed to assign a new customer: fitted transform + clusterer, centres in the
    transformed space, the map from raw estimator labels to stable cluster ids, and names."""

    transform: Pipeline
    estimator: object
    centres: np.ndarray
    label_map: dict[int, int]
    names: dict[int, str]
    spec: FeatureSpec
    algorithm: str
    k: int
    random_state: int

    @property
    def pipeline(self) -> Pipeline:
        return Pipeline([*self.transform.steps, ("cluster", self.estimator)])

    def predict(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """(cluster_id, distance to the cluster centre in the transformed space) per row."""
        z = self.transform.transform(align_columns(features, self.spec))
        raw = self.estimator.predict(z)
        ids = np.vectorize(self.label_map.__getitem__, otypes=[np.int64])(raw)
        dist = np.linalg.norm(z - self.centres[ids], axis=1)
        return ids, dist


@dataclass
class ClusteringResult:
    model: ClusterModel
    customer_clusters: pd.DataFrame
    cluster_profiles: pd.DataFrame
    report: dict
    plots: dict[str, bytes] = field(default_factory=dict)


def fit_clusters(
    features: pd.DataFrame,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    skewed: Sequence[str] | None = None,
    config: ClusteringConfig | None = None,
    as_of=None,
) -> ClusteringResult:
    """Fit micro-segments on the latest cutoff of `customer_features` (or the given `as_of`).

    Defaults: numeric = CLUSTER_FEATURES, no categoricals. Returns customer_clusters
    (customer_key, cluster_id, cluster_name, distance_to_centre), cluster_profiles, a JSON-able
    report and PNG plots.
    """
    cfg = config or ClusteringConfig()
    df = latest_cutoff(features, as_of)
    spec = resolve_features(
        df,
        CLUSTER_FEATURES if numeric is None else numeric,
        () if categorical is None else categorical,
        SKEWED_FEATURES if skewed is None else skewed,
    )
    X = align_columns(df, spec)
    n = len(X)
    rs = cfg.random_state
    k_values = [k for k in cfg.k_values if 2 <= k <= max(2, n // 20)]
    if not k_values:
        raise ValueError(f"too few customers ({n}) to cluster")

    steps = [("prep", build_preprocessor(spec))]
    if cfg.pca_variance:
        steps.append(("pca", PCA(n_components=cfg.pca_variance, svd_solver="full", random_state=rs)))
    transform = Pipeline(steps)
    Z = np.ascontiguousarray(transform.fit_transform(X), dtype=np.float64)

    order = np.argsort(stable_unit_hash(df[KEY], salt=f"cluster{rs}"), kind="stable")
    sel_idx = np.sort(order[: min(n, cfg.selection_sample)])
    ev_idx = np.sort(order[: min(n, cfg.eval_sample)])
    Zs, Ze = Z[sel_idx], Z[ev_idx]
    Zg = Zs[: cfg.gmm_sample]
    D = pairwise_distances(Ze)

    # k-means over k on the selection sample.
    curve = []
    sample_models = {}
    for k in k_values:
        km = KMeans(n_clusters=k, n_init=4, random_state=rs).fit(Zs)
        sample_models[k] = km
        lab = km.predict(Ze)
        curve.append(
            {
                "k": k,
                "inertia": float(km.inertia_),
                "silhouette": _silhouette(D, lab),
                "min_share": _min_share(lab, k),
            }
        )
    eligible = [c for c in curve if c["min_share"] >= cfg.min_cluster_share] or curve
    k_best = max(eligible, key=lambda c: (c["silhouette"], -c["k"]))["k"]

    if n > cfg.minibatch_threshold:
        final_km = MiniBatchKMeans(
            n_clusters=k_best,
            init=sample_models[k_best].cluster_centers_,
            n_init=1,
            batch_size=8192,
            max_iter=50,
            random_state=rs,
        ).fit(Z)
    else:
        final_km = KMeans(
            n_clusters=k_best, init=sample_models[k_best].cluster_centers_, n_init=1, random_state=rs
        ).fit(Z)

    candidates = [_candidate("kmeans", k_best, final_km.predict(Ze), D, estimator=final_km)]
    if "ward" in cfg.algorithms:
        tree = linkage(Ze, method="ward")
        candidates += [
            _candidate("ward", k, fcluster(tree, k, criterion="maxclust") - 1, D) for k in k_values
        ]
    if "gmm" in cfg.algorithms:
        for k in k_values:
            gm = GaussianMixture(n_components=k, covariance_type="full", random_state=rs, reg_covar=1e-4).fit(
                Zg
            )
            candidates.append(_candidate("gmm", k, gm.predict(Ze), D, estimator=gm))
    if "hdbscan" in cfg.algorithms:
        hd = HDBSCAN(
            min_cluster_size=max(10, int(cfg.min_cluster_share * len(Ze))), min_samples=10, copy=True
        ).fit(Ze)
        raw = hd.labels_
        noise = float(np.mean(raw < 0))
        found = len(set(raw[raw >= 0].tolist()))
        lab = _attach_noise(Ze, raw) if found >= 1 else raw
        candidates.append(_candidate("hdbscan", found, lab, D, noise_share=noise))

    for c in candidates:
        c["eligible"] = (
            min(k_values) <= c["k"] <= max(k_values)
            and c["min_share"] >= cfg.min_cluster_share
            and c["noise_share"] <= cfg.max_noise_share
            and np.isfinite(c["silhouette"])
        )
    best = max((c for c in candidates if c["eligible"]), key=lambda c: c["silhouette"], default=candidates[0])
    kmeans_c = candidates[0]
    if (
        best is not kmeans_c
        and kmeans_c["eligible"]
        and best["silhouette"] - kmeans_c["silhouette"] <= cfg.simplicity_margin
    ):
        best = kmeans_c
    algo, k = best["algorithm"], best["k"]
    if algo in ("kmeans", "gmm"):
        estimator = best["estimator"]
    else:
        estimator = KNeighborsClassifier(n_neighbors=15).fit(Ze, best["labels"])

    raw_all = estimator.predict(Z)
    label_map = _stable_label_map(raw_all, Z)
    ids = np.vectorize(label_map.__getitem__, otypes=[np.int64])(raw_all)
    k = len(label_map)
    centres = np.vstack([Z[ids == c].mean(axis=0) for c in range(k)])
    names = name_clusters(df, ids, spec)
    model = ClusterModel(transform, estimator, centres, label_map, names, spec, algo, k, rs)

    ref = np.vectorize(label_map.__getitem__, otypes=[np.int64])(estimator.predict(Ze))
    stability = _bootstrap_ari(algo, k, Ze, ref, cfg)
    tests = cluster_difference_tests(df, ids, spec, sample=cfg.test_sample, random_state=rs)

    clusters = pd.DataFrame(
        {
            KEY: df[KEY].to_numpy(),
            "cluster_id": ids,
            "cluster_name": pd.array([names[i] for i in ids], dtype="str"),
            "distance_to_centre": np.linalg.norm(Z - centres[ids], axis=1),
        }
    )
    profiles = cluster_profiles(df, ids, names)
    table = [
        {key: _jsonable(v) for key, v in c.items() if key not in ("labels", "estimator")} for c in candidates
    ]
    report = {
        "algorithm": algo,
        "k": int(k),
        "n_customers": int(n),
        "features": spec.to_dict(),
        "pca_components": int(Z.shape[1]),
        "selection_criterion": (
            f"max silhouette on a {len(Ze)}-customer evaluation sample among solutions with "
            f"{min(k_values)}<=k<={max(k_values)}, smallest cluster >= {cfg.min_cluster_share:.0%}, noise <= "
            f"{cfg.max_noise_share:.0%}; k-means kept unless beaten by > {cfg.simplicity_margin}"
        ),
        "silhouette": float(best["silhouette"]),
        "kmeans_curve": curve,
        "comparison": table,
        "stability_ari_mean": stability[0],
        "stability_ari_std": stability[1],
        "feature_tests": tests.to_dict(orient="records"),
        "cluster_names": {str(i): nm for i, nm in names.items()},
        "random_state": rs,
    }
    coords = PCA(n_components=2, random_state=rs).fit_transform(Ze) if Ze.shape[1] >= 2 else np.c_[Ze, Ze]
    plots = {
        "elbow_silhouette.png": elbow_silhouette_png(
            [c["k"] for c in curve], [c["inertia"] for c in curve], [c["silhouette"] for c in curve], k_best
        ),
        "pca_scatter.png": pca_scatter_png(coords, [names[i] for i in ref]),
    }
    return ClusteringResult(model, clusters, profiles, report, plots)


def assign_clusters(model: ClusterModel, features: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Assign customers (latest cutoff) to a persisted model's clusters."""
    df = latest_cutoff(features, as_of)
    ids, dist = model.predict(df)
    return pd.DataFrame(
        {
            KEY: df[KEY].to_numpy(),
            "cluster_id": ids,
            "cluster_name": pd.array([model.names[i] for i in ids], dtype="str"),
            "distance_to_centre": dist,
        }
    )


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    return v


def _silhouette(D: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette from a precomputed distance matrix (computed once per evaluation sample)."""
    if len(set(labels.tolist())) < 2:
        return float("nan")
    return float(silhouette_score(D, labels, metric="precomputed"))


def _min_share(labels: np.ndarray, k: int) -> float:
    counts = np.bincount(labels[labels >= 0], minlength=k)
    return float(counts.min() / len(labels)) if len(counts) else 0.0


def _candidate(algo, k, labels, D, *, estimator=None, noise_share=0.0) -> dict:
    labels = np.asarray(labels)
    return {
        "algorithm": algo,
        "k": int(k),
        "silhouette": _silhouette(D, labels) if k >= 2 else float("nan"),
        "min_share": _min_share(labels, max(int(k), 1)) if k >= 1 else 0.0,
        "noise_share": float(noise_share),
        "labels": labels,
        "estimator": estimator,
    }


def _attach_noise(Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """HDBSCAN noise joins the nearest cluster mean."""
    labels = labels.copy()
    ids = sorted(set(labels[labels >= 0].tolist()))
    means = np.vstack([Z[labels == i].mean(axis=0) for i in ids])
    noise = labels < 0
    if noise.any():
        d = ((Z[noise, None, :] - means[None, :, :]) ** 2).sum(axis=2)
        labels[noise] = np.asarray(ids)[d.argmin(axis=1)]
    remap = {old: new for new, old in enumerate(ids)}
    return np.vectorize(remap.__getitem__)(labels)


def _stable_label_map(raw: np.ndarray, Z: np.ndarray) -> dict[int, int]:
    """Cluster ids by decreasing size (ties by centre coordinates), so ids do not depend on the
    arbitrary numbering of the estimator."""
    uniq, counts = np.unique(raw, return_counts=True)
    keys = []
    for u, c in zip(uniq, counts, strict=True):
        centre = Z[raw == u].mean(axis=0)
        keys.append((-int(c), tuple(np.round(centre, 9)), int(u)))
    return {int(u): i for i, (_, _, u) in enumerate(sorted(keys))}


def _fit_predict(algo: str, k: int, Z: np.ndarray, seed: int, cfg: ClusteringConfig) -> np.ndarray:
    if algo == "kmeans":
        return KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(Z)
    if algo == "gmm":
        return GaussianMixture(
            n_components=k, covariance_type="full", random_state=seed, reg_covar=1e-4
        ).fit_predict(Z)
    if algo == "ward":
        return fcluster(linkage(Z, method="ward"), k, criterion="maxclust") - 1
    raw = HDBSCAN(
        min_cluster_size=max(10, int(cfg.min_cluster_share * len(Z))), min_samples=10, copy=True
    ).fit_predict(Z)
    return _attach_noise(Z, raw) if (raw >= 0).any() else raw


def _bootstrap_ari(
    algo: str, k: int, Ze: np.ndarray, ref: np.ndarray, cfg: ClusteringConfig
) -> tuple[float, float]:
    rng = np.random.default_rng(cfg.random_state)
    scores = []
    for b in range(cfg.n_bootstrap):
        idx = rng.choice(len(Ze), len(Ze), replace=True)
        uniq, first = np.unique(idx, return_index=True)
        lab = _fit_predict(algo, k, Ze[idx], cfg.random_state + 1 + b, cfg)
        scores.append(adjusted_rand_score(ref[uniq], lab[first]))
    if not scores:
        return float("nan"), float("nan")
    return float(np.mean(scores)), float(np.std(scores))


def cluster_difference_tests(
    df: pd.DataFrame, ids: np.ndarray, spec: FeatureSpec, *, sample: int = 200_000, random_state: int = 42
) -> pd.DataFrame:
    """Do clusters differ? Kruskal-Wallis per numeric feature (epsilon-squared effect size) and
    chi-square per categorical (Cramer's V), on a seeded sample of at most `sample` rows."""
    idx = np.arange(len(df))
    if len(idx) > sample:
        idx = np.sort(np.random.default_rng(random_state).choice(idx, sample, replace=False))
    rows = []
    for col in spec.numeric:
        x = pd.to_numeric(df[col].iloc[idx], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x)
        groups = [x[ok & (ids[idx] == c)] for c in np.unique(ids)]
        groups = [g for g in groups if len(g) > 0]
        m = int(ok.sum())
        if len(groups) < 2 or np.ptp(x[ok]) == 0:
            rows.append(
                {
                    "feature": col,
                    "test": "kruskal",
                    "statistic": np.nan,
                    "p_value": np.nan,
                    "effect_size": np.nan,
                }
            )
            continue
        h, p = stats.kruskal(*groups)
        eps2 = (h - len(groups) + 1) / (m - len(groups)) if m > len(groups) else np.nan
        rows.append(
            {
                "feature": col,
                "test": "kruskal",
                "statistic": float(h),
                "p_value": float(p),
                "effect_size": float(eps2),
            }
        )
    for col in spec.categorical:
        cat = df[col].iloc[idx].astype(object).where(df[col].iloc[idx].notna(), "missing").astype(str)
        table = pd.crosstab(ids[idx], cat.to_numpy())
        if table.shape[0] < 2 or table.shape[1] < 2:
            rows.append(
                {
                    "feature": col,
                    "test": "chi2",
                    "statistic": np.nan,
                    "p_value": np.nan,
                    "effect_size": np.nan,
                }
            )
            continue
        chi2, p, _, _ = stats.chi2_contingency(table.to_numpy())
        v = np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1)))
        rows.append(
            {
                "feature": col,
                "test": "chi2",
                "statistic": float(chi2),
                "p_value": float(p),
                "effect_size": float(v),
            }
        )
    return pd.DataFrame(rows, columns=["feature", "test", "statistic", "p_value", "effect_size"])


# --- names -------------------------------------------------------------------------------------

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


def cluster_profiles(
    df: pd.DataFrame, ids: np.ndarray, names: dict[int, str], features: Sequence[str] = PROFILE_FEATURES
) -> pd.DataFrame:
    """One row per cluster: size, share, name, and for each key feature the cluster mean, median
    and index (cluster mean / overall mean x 100), plus the trait z-scores used for naming."""
    cols = [c for c in features if c in df.columns]
    num = df[cols].apply(pd.to_numeric, errors="coerce")
    g = num.groupby(ids)
    mean, median, overall = g.mean(), g.median(), num.mean()
    sizes = pd.Series(ids).value_counts().sort_index()
    out = pd.DataFrame(
        {
            "cluster_id": sizes.index.astype("int64"),
            "cluster_name": pd.array([names[int(i)] for i in sizes.index], dtype="str"),
            "size": sizes.to_numpy().astype("int64"),
            "share": sizes.to_numpy() / len(ids),
        }
    )
    for c in cols:
        out[f"{c}_mean"] = mean[c].reindex(sizes.index).to_numpy()
        out[f"{c}_median"] = median[c].reindex(sizes.index).to_numpy()
        out[f"{c}_overall_mean"] = overall[c]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{c}_index"] = 100.0 * out[f"{c}_mean"] / overall[c] if overall[c] else np.nan
    traits = trait_scores(df, ids).reindex(sizes.index)
    for t in traits.columns:
        out[f"trait_{t}"] = traits[t].to_numpy()
    return out


def silhouette_in_space(
    model: ClusterModel, features: pd.DataFrame, space: ClusterModel, *, sample: int = 4_000, as_of=None
) -> float:
    """Champion/challenger metric: silhouette of `model`'s assignment measured in `space`'s
    transformed feature space (the challenger's), on a hash sample of the latest customers, so a
    champion and a challenger are compared on the same points in the same geometry."""
    df = latest_cutoff(features, as_of)
    order = np.argsort(stable_unit_hash(df[KEY], salt=f"cluster{space.random_state}"), kind="stable")
    df = df.iloc[np.sort(order[:sample])]
    Z = space.transform.transform(align_columns(df, space.spec))
    ids, _ = model.predict(df)
    return _silhouette(pairwise_distances(Z), ids)
