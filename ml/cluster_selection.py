"""Candidate selection for micro-segments: which algorithm and which k.

k-means is scored over k on a selection sample and refit on everyone; Ward, a Gaussian mixture and
HDBSCAN are fitted on the evaluation sample as challengers; the winner has the best silhouette on
that sample, but k-means keeps the title unless beaten by more than a margin, because it scores
new customers natively. Which candidates are plausible at all is decided in ml.cluster_validation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import HDBSCAN, KMeans, MiniBatchKMeans
from sklearn.metrics import silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier

if TYPE_CHECKING:
    from ml.clustering import ClusteringConfig


# --- the estimators, built the same way wherever they are fitted (selection and bootstrap) -------


def kmeans_estimator(k: int, random_state: int) -> KMeans:
    return KMeans(n_clusters=k, n_init=4, random_state=random_state)


def gmm_estimator(k: int, random_state: int) -> GaussianMixture:
    return GaussianMixture(n_components=k, covariance_type="full", random_state=random_state, reg_covar=1e-4)


def hdbscan_estimator(min_cluster_share: float, n_rows: int) -> HDBSCAN:
    """Clusters smaller than the smallest segment worth a message are noise."""
    return HDBSCAN(min_cluster_size=max(10, int(min_cluster_share * n_rows)), min_samples=10, copy=True)


def ward_labels(tree: np.ndarray, k: int) -> np.ndarray:
    """Labels 0..k-1 from cutting a Ward linkage tree into k clusters."""
    return fcluster(tree, k, criterion="maxclust") - 1


def attach_noise(Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """HDBSCAN noise joins the nearest cluster mean: every customer needs a segment."""
    labels = labels.copy()
    ids = sorted(set(labels[labels >= 0].tolist()))
    means = np.vstack([Z[labels == i].mean(axis=0) for i in ids])
    noise = labels < 0
    if noise.any():
        d = ((Z[noise, None, :] - means[None, :, :]) ** 2).sum(axis=2)
        labels[noise] = np.asarray(ids)[d.argmin(axis=1)]
    remap = {old: new for new, old in enumerate(ids)}
    return np.vectorize(remap.__getitem__)(labels)


# --- scoring a labelling -------------------------------------------------------------------------


def silhouette(D: np.ndarray, labels: np.ndarray) -> float:
    """Silhouette from a precomputed distance matrix (computed once per evaluation sample)."""
    if len(set(labels.tolist())) < 2:
        return float("nan")
    return float(silhouette_score(D, labels, metric="precomputed"))


def min_share(labels: np.ndarray, k: int) -> float:
    """Share of the smallest cluster (noise excluded) in all labelled rows."""
    counts = np.bincount(labels[labels >= 0], minlength=k)
    return float(counts.min() / len(labels)) if len(counts) else 0.0


def candidate(algo, k, labels, D, *, estimator=None, noise_share=0.0) -> dict:
    """One solution on the evaluation sample, with the numbers it is judged by."""
    labels = np.asarray(labels)
    return {
        "algorithm": algo,
        "k": int(k),
        "silhouette": silhouette(D, labels) if k >= 2 else float("nan"),
        "min_share": min_share(labels, max(int(k), 1)) if k >= 1 else 0.0,
        "noise_share": float(noise_share),
        "labels": labels,
        "estimator": estimator,
    }


# --- k-means over k, and the challengers ---------------------------------------------------------


def kmeans_curve(
    Zs: np.ndarray, Ze: np.ndarray, D: np.ndarray, k_values: Sequence[int], random_state: int
) -> tuple[list[dict], dict[int, KMeans]]:
    """Elbow and silhouette per k: k-means fitted on the selection sample, judged on the
    evaluation sample; with the fitted model of each k (its centres seed the final refit)."""
    curve = []
    models = {}
    for k in k_values:
        km = kmeans_estimator(k, random_state).fit(Zs)
        models[k] = km
        labels = km.predict(Ze)
        curve.append(
            {
                "k": k,
                "inertia": float(km.inertia_),
                "silhouette": silhouette(D, labels),
                "min_share": min_share(labels, k),
            }
        )
    return curve, models


def choose_k(curve: list[dict], min_cluster_share: float) -> int:
    """Best silhouette among k whose smallest cluster is big enough (fewer clusters on ties)."""
    eligible = [c for c in curve if c["min_share"] >= min_cluster_share] or curve
    return max(eligible, key=lambda c: (c["silhouette"], -c["k"]))["k"]


def refit_kmeans(Z: np.ndarray, start: KMeans, cfg: ClusteringConfig) -> KMeans | MiniBatchKMeans:
    """k-means on every customer from the sample's centres (mini-batches on large populations)."""
    k = start.n_clusters
    if len(Z) > cfg.minibatch_threshold:
        return MiniBatchKMeans(
            n_clusters=k,
            init=start.cluster_centers_,
            n_init=1,
            batch_size=8192,
            max_iter=50,
            random_state=cfg.random_state,
        ).fit(Z)
    return KMeans(n_clusters=k, init=start.cluster_centers_, n_init=1, random_state=cfg.random_state).fit(Z)


def challenger_candidates(
    Ze: np.ndarray, Zg: np.ndarray, D: np.ndarray, k_values: Sequence[int], cfg: ClusteringConfig
) -> list[dict]:
    """Ward (each k) and HDBSCAN on the evaluation sample, Gaussian mixtures (each k) fitted on the
    GMM sample and judged on the evaluation sample."""
    candidates = []
    if "ward" in cfg.algorithms:
        tree = linkage(Ze, method="ward")
        candidates += [candidate("ward", k, ward_labels(tree, k), D) for k in k_values]
    if "gmm" in cfg.algorithms:
        for k in k_values:
            gm = gmm_estimator(k, cfg.random_state).fit(Zg)
            candidates.append(candidate("gmm", k, gm.predict(Ze), D, estimator=gm))
    if "hdbscan" in cfg.algorithms:
        raw = hdbscan_estimator(cfg.min_cluster_share, len(Ze)).fit(Ze).labels_
        noise = float(np.mean(raw < 0))
        found = len(set(raw[raw >= 0].tolist()))
        labels = attach_noise(Ze, raw) if found >= 1 else raw
        candidates.append(candidate("hdbscan", found, labels, D, noise_share=noise))
    return candidates


def choose_winner(kmeans: dict, challengers: list[dict], simplicity_margin: float) -> dict:
    """Highest silhouette among eligible candidates; k-means unless beaten by more than the margin."""
    best = max(
        (c for c in [kmeans, *challengers] if c["eligible"]), key=lambda c: c["silhouette"], default=kmeans
    )
    if (
        best is not kmeans
        and kmeans["eligible"]
        and best["silhouette"] - kmeans["silhouette"] <= simplicity_margin
    ):
        return kmeans
    return best


def assigning_estimator(winner: dict, Ze: np.ndarray):
    """What assigns every customer: k-means and GMM predict natively; Ward and HDBSCAN labels are
    extended by a k-nearest-neighbour classifier trained on the evaluation sample."""
    if winner["algorithm"] in ("kmeans", "gmm"):
        return winner["estimator"]
    return KNeighborsClassifier(n_neighbors=15).fit(Ze, winner["labels"])


def stable_label_map(raw: np.ndarray, Z: np.ndarray) -> dict[int, int]:
    """Cluster ids by decreasing size (ties by centre coordinates), so ids do not depend on the
    arbitrary numbering of the estimator."""
    uniq, counts = np.unique(raw, return_counts=True)
    keys = []
    for u, c in zip(uniq, counts, strict=True):
        centre = Z[raw == u].mean(axis=0)
        keys.append((-int(c), tuple(np.round(centre, 9)), int(u)))
    return {int(u): i for i, (_, _, u) in enumerate(sorted(keys))}


def relabel(label_map: dict[int, int], raw: np.ndarray) -> np.ndarray:
    """Stable cluster ids from an estimator's raw labels."""
    return np.vectorize(label_map.__getitem__, otypes=[np.int64])(raw)
