"""Validation of micro-segments: is a candidate plausible, is the winner stable, do clusters differ?

Plausibility gates a candidate before selection (a k outside the asked range, a cluster too small
to message, or mostly noise is no segmentation). Stability and the difference tests describe the
winner in the report; they do not change it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.cluster.hierarchy import linkage
from sklearn.metrics import adjusted_rand_score

from ml.cluster_selection import (
    attach_noise,
    gmm_estimator,
    hdbscan_estimator,
    kmeans_estimator,
    ward_labels,
)
from ml.features import FeatureSpec

TEST_COLUMNS = ["feature", "test", "statistic", "p_value", "effect_size"]


def is_plausible(
    candidate: dict, k_values: Sequence[int], *, min_cluster_share: float, max_noise_share: float
) -> bool:
    """k inside the asked range, smallest cluster >= min_cluster_share, HDBSCAN noise <=
    max_noise_share, and a finite silhouette."""
    return bool(
        min(k_values) <= candidate["k"] <= max(k_values)
        and candidate["min_share"] >= min_cluster_share
        and candidate["noise_share"] <= max_noise_share
        and np.isfinite(candidate["silhouette"])
    )


def _fit_predict(algo: str, k: int, Z: np.ndarray, seed: int, min_cluster_share: float) -> np.ndarray:
    if algo == "kmeans":
        return kmeans_estimator(k, seed).fit_predict(Z)
    if algo == "gmm":
        return gmm_estimator(k, seed).fit_predict(Z)
    if algo == "ward":
        return ward_labels(linkage(Z, method="ward"), k)
    raw = hdbscan_estimator(min_cluster_share, len(Z)).fit_predict(Z)
    return attach_noise(Z, raw) if (raw >= 0).any() else raw


def bootstrap_stability(
    algo: str,
    k: int,
    Ze: np.ndarray,
    reference: np.ndarray,
    *,
    n_bootstrap: int,
    min_cluster_share: float,
    random_state: int,
) -> tuple[float, float]:
    """Mean and standard deviation of the adjusted Rand index between the winner's labels and
    refits on bootstrap resamples of the evaluation sample, compared on the resampled points."""
    rng = np.random.default_rng(random_state)
    scores = []
    for b in range(n_bootstrap):
        idx = rng.choice(len(Ze), len(Ze), replace=True)
        uniq, first = np.unique(idx, return_index=True)
        labels = _fit_predict(algo, k, Ze[idx], random_state + 1 + b, min_cluster_share)
        scores.append(adjusted_rand_score(reference[uniq], labels[first]))
    if not scores:
        return float("nan"), float("nan")
    return float(np.mean(scores)), float(np.std(scores))


def _test_row(feature: str, test: str, statistic=np.nan, p_value=np.nan, effect_size=np.nan) -> dict:
    return {
        "feature": feature,
        "test": test,
        "statistic": float(statistic),
        "p_value": float(p_value),
        "effect_size": float(effect_size),
    }


def cluster_difference_tests(
    df: pd.DataFrame, ids: np.ndarray, spec: FeatureSpec, *, sample: int = 200_000, random_state: int = 42
) -> pd.DataFrame:
    """Do clusters differ? Kruskal-Wallis per numeric feature (epsilon-squared effect size) and
    chi-square per categorical (Cramer's V), on a seeded sample of at most `sample` rows.

    At a million rows every p-value is tiny; the effect size is what matters.
    """
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
            rows.append(_test_row(col, "kruskal"))
            continue
        h, p = stats.kruskal(*groups)
        eps2 = (h - len(groups) + 1) / (m - len(groups)) if m > len(groups) else np.nan
        rows.append(_test_row(col, "kruskal", h, p, eps2))
    for col in spec.categorical:
        cat = df[col].iloc[idx].astype(object).where(df[col].iloc[idx].notna(), "missing").astype(str)
        table = pd.crosstab(ids[idx], cat.to_numpy())
        if table.shape[0] < 2 or table.shape[1] < 2:
            rows.append(_test_row(col, "chi2"))
            continue
        chi2, p, _, _ = stats.chi2_contingency(table.to_numpy())
        v = np.sqrt(chi2 / (table.to_numpy().sum() * (min(table.shape) - 1)))
        rows.append(_test_row(col, "chi2", chi2, p, v))
    return pd.DataFrame(rows, columns=TEST_COLUMNS)
