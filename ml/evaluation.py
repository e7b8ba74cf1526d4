"""Evaluation against the generator's hidden ground truth (personas, future purchases).

The pipeline never reads ground truth; end-to-end tests and benchmarks call these helpers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import (
    adjusted_rand_score,
    average_precision_score,
    normalized_mutual_info_score,
    roc_auc_score,
)
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from ml.features import CLUSTER_FEATURES, KEY, build_preprocessor, latest_cutoff, resolve_features


def _join(left: pd.DataFrame, right: pd.DataFrame, cols_left, cols_right) -> pd.DataFrame:
    a = left[[KEY, *cols_left]].assign(**{KEY: left[KEY].astype(str)})
    b = right[[KEY, *cols_right]].assign(**{KEY: right[KEY].astype(str)})
    return a.merge(b, on=KEY, how="inner")


def cluster_persona_agreement(
    customer_clusters: pd.DataFrame, personas: pd.DataFrame, *, persona_col: str = "persona"
) -> dict:
    """Adjusted Rand index and NMI between cluster_id and the hidden persona, plus the
    cluster x persona contingency table, on the customers present in both frames."""
    m = _join(customer_clusters, personas, ["cluster_id", "cluster_name"], [persona_col]).dropna(
        subset=[persona_col]
    )
    if m.empty:
        raise ValueError("no customer in common between clusters and personas")
    table = pd.crosstab(m["cluster_name"], m[persona_col])
    return {
        "ari": float(adjusted_rand_score(m[persona_col], m["cluster_id"])),
        "nmi": float(normalized_mutual_info_score(m[persona_col], m["cluster_id"])),
        "n": len(m),
        "contingency": table,
    }


def propensity_auc(
    customer_scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    outcome_col: str = "orders_next_30d",
    score_col: str = "purchase_propensity",
) -> dict:
    """How well the scores rank real future buyers (outcome > 0, so a count or a bool works):
    ROC AUC, PR AUC, base rate and the lift of the top decile, on customers with both."""
    m = _join(customer_scores, outcomes, [score_col], [outcome_col]).dropna()
    y = (m[outcome_col].astype(float) > 0).to_numpy()
    s = m[score_col].to_numpy(dtype=float)
    if y.all() or not y.any():
        raise ValueError("outcomes have a single class")
    top = s >= np.quantile(s, 0.9)
    return {
        "roc_auc": float(roc_auc_score(y, s)),
        "pr_auc": float(average_precision_score(y, s)),
        "base_rate": float(y.mean()),
        "top_decile_lift": float(y[top].mean() / y.mean()),
        "n": len(m),
    }


def clv_rank_correlation(
    customer_scores: pd.DataFrame,
    outcomes: pd.DataFrame,
    *,
    outcome_col: str = "revenue_next_90d",
    score_col: str = "predicted_clv_365d",
) -> dict:
    """Spearman correlation between predicted CLV and realised future revenue."""
    m = _join(customer_scores, outcomes, [score_col], [outcome_col]).dropna()
    rho = spearmanr(m[score_col], m[outcome_col]).statistic
    return {"spearman": float(rho), "n": len(m)}


def persona_recovery(
    customer_clusters: pd.DataFrame,
    features: pd.DataFrame,
    personas: pd.DataFrame,
    *,
    numeric=CLUSTER_FEATURES,
    persona_col: str = "persona",
    folds: int = 5,
    random_state: int = 0,
) -> dict:
    """The clusters' ARI with the hidden persona next to the supervised ceiling: the ARI of a
    classifier that is told the personas, predicting them out of fold from the same features
    (latest cutoff). A low ceiling means the personas are not visible in the features and no
    clustering can recover them; a low ARI under a high ceiling means the clustering falls short."""
    latest = latest_cutoff(features)
    spec = resolve_features(latest, numeric, ())
    m = _join(customer_clusters, personas, ["cluster_id"], [persona_col]).dropna(subset=[persona_col])
    m = m.merge(latest[[KEY, *spec.columns]].assign(**{KEY: latest[KEY].astype(str)}), on=KEY)
    if m[persona_col].nunique() < 2:
        raise ValueError("persona recovery needs at least two personas among the clustered customers")
    classifier = Pipeline(
        [
            ("prep", build_preprocessor(spec)),
            ("model", HistGradientBoostingClassifier(max_iter=200, random_state=random_state)),
        ]
    )
    smallest = int(m[persona_col].value_counts().min())
    split = StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True, random_state=random_state)
    # one OpenMP thread: spinning threads of a busy shared machine cost minutes (228 s against 6 s
    # at 300 customers), and the classifier is an evaluation aid, not a production fit
    with threadpool_limits(limits=1, user_api="openmp"):
        predicted = cross_val_predict(classifier, m[list(spec.columns)], m[persona_col], cv=split)
    return {
        "ari": float(adjusted_rand_score(m[persona_col], m["cluster_id"])),
        "supervised_ceiling_ari": float(adjusted_rand_score(m[persona_col], predicted)),
        "supervised_accuracy": float(np.mean(predicted == m[persona_col].to_numpy())),
        "features": list(spec.columns),
        "n": len(m),
    }
