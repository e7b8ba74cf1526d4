"""What a clustering run reports: the customer table, cluster profiles, the JSON report and plots.

Shared by training (ml.clustering.fit_clusters) and daily scoring (ml.champion), so a segment
looks the same wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from ml.cluster_names import PROSPECTS, is_buyer, name_claims, trait_scores
from ml.features import KEY, FeatureSpec
from ml.plots import cluster_profile_png, elbow_silhouette_png, pca_scatter_png

if TYPE_CHECKING:
    from ml.clustering import ClusteringConfig

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


def customer_clusters_table(
    keys: pd.Series, ids: np.ndarray, names: dict[int, str], distances: np.ndarray
) -> pd.DataFrame:
    """customer_clusters: customer_key, cluster_id, cluster_name, distance_to_centre."""
    return pd.DataFrame(
        {
            KEY: keys.to_numpy(),
            "cluster_id": ids,
            "cluster_name": pd.array([names[i] for i in ids], dtype="str"),
            "distance_to_centre": distances,
        }
    )


def cluster_profiles(
    df: pd.DataFrame, ids: np.ndarray, names: dict[int, str], features: Sequence[str] = PROFILE_FEATURES
) -> pd.DataFrame:
    """One row per cluster (prospects included): size, share, name, and for each key feature the
    cluster mean, median, the buyers' median (what names are judged against) and index (cluster
    mean / overall mean x 100), plus the trait scores used for naming (cluster median against the
    buyers' median, ml.cluster_names)."""
    cols = [c for c in features if c in df.columns]
    num = df[cols].apply(pd.to_numeric, errors="coerce")
    buyers = is_buyer(df)
    g = num.groupby(ids)
    mean, median, overall = g.mean(), g.median(), num.mean()
    population_median = num[buyers].median()
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
        out[f"{c}_population_median"] = population_median[c]
        out[f"{c}_overall_mean"] = overall[c]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{c}_index"] = 100.0 * out[f"{c}_mean"] / overall[c] if overall[c] else np.nan
    traits = trait_scores(df, ids, population=buyers).reindex(sizes.index)
    for t in traits.columns:
        out[f"trait_{t}"] = traits[t].to_numpy()
    return out


def _jsonable(value):
    return value.item() if isinstance(value, np.generic) else value


def clustering_report(
    *,
    winner: dict,
    k: int,
    n_customers: int,
    spec: FeatureSpec,
    n_components: int,
    n_evaluation: int,
    k_values: Sequence[int],
    cfg: ClusteringConfig,
    curve: list[dict],
    candidates: list[dict],
    stability: tuple[float, float],
    tests: pd.DataFrame,
    names: dict[int, str],
    profiles: pd.DataFrame,
    n_prospects: int,
) -> dict:
    """The JSON-able report stored with the model and shown in the UI: the choice and why, every
    candidate's numbers, stability, the difference tests and the names."""
    buyer_shares = [float(v) for v in profiles.loc[profiles["cluster_name"] != PROSPECTS, "share"]]
    smallest = float(winner["min_share"])
    return {
        "algorithm": winner["algorithm"],
        "k": int(k),
        "n_customers": int(n_customers),
        "n_prospects": int(n_prospects),
        "prospects_rule": "no completed order before the cutoff (frequency_orders = 0): the "
        f"'{PROSPECTS}' group, not clustered",
        "supported": bool(k >= min(k_values) and smallest >= cfg.min_cluster_share),
        "smallest_cluster_share_of_buyers": smallest,
        "cluster_shares_of_customers": buyer_shares,
        "features": spec.to_dict(),
        "pca_components": int(n_components),
        "selection_criterion": (
            f"max silhouette on a {n_evaluation}-customer evaluation sample among solutions with "
            f"{min(k_values)}<=k<={max(k_values)}, smallest cluster >= {cfg.min_cluster_share:.0%}, noise <= "
            f"{cfg.max_noise_share:.0%}; k-means kept unless beaten by > {cfg.simplicity_margin}"
        ),
        "silhouette": float(winner["silhouette"]),
        "kmeans_curve": curve,
        "comparison": [
            {key: _jsonable(v) for key, v in c.items() if key not in ("labels", "estimator")}
            for c in candidates
        ],
        "stability_ari_mean": stability[0],
        "stability_ari_std": stability[1],
        "feature_tests": tests.to_dict(orient="records"),
        "cluster_names": {str(i): nm for i, nm in names.items()},
        "name_claims": {nm: name_claims(nm) for nm in names.values()},
        "random_state": cfg.random_state,
    }


def clustering_plots(
    curve: list[dict],
    k_best: int,
    Ze: np.ndarray,
    labels: np.ndarray,
    names: dict[int, str],
    random_state: int,
    profiles: pd.DataFrame,
) -> dict[str, bytes]:
    """The segment profile (the picture for a marketer), the elbow/silhouette curve of k-means and
    the evaluation sample in two PCA dimensions."""
    traits = [c.removeprefix("trait_") for c in profiles.columns if c.startswith("trait_")]
    buyers = profiles[profiles["cluster_name"] != PROSPECTS]
    coords = (
        PCA(n_components=2, random_state=random_state).fit_transform(Ze)
        if Ze.shape[1] >= 2
        else np.c_[Ze, Ze]
    )
    return {
        "segment_profiles.png": cluster_profile_png(
            list(buyers["cluster_name"]),
            list(buyers["share"]),
            traits,
            buyers[[f"trait_{t}" for t in traits]].to_numpy(),
        ),
        "elbow_silhouette.png": elbow_silhouette_png(
            [c["k"] for c in curve], [c["inertia"] for c in curve], [c["silhouette"] for c in curve], k_best
        ),
        "pca_scatter.png": pca_scatter_png(coords, [names[i] for i in labels]),
    }
