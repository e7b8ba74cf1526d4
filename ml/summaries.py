"""What each ML asset shows about its run, decided here so that the Dagster glue only displays it.

Every function takes what a runner or champion function returned and gives plain JSON-able values.
"""

from __future__ import annotations

import pandas as pd


def training_summary(model_run: dict) -> dict:
    """A training run at a glance: the version, whether it became champion and why, the champion it
    was compared with ('none' for a first model), and the holdout score that decided it."""
    return {
        "version": model_run["version"],
        "promoted": bool(model_run["promoted"]),
        "reason": model_run["reason"],
        "champion_version": model_run.get("champion_version") or "none",
        "holdout_metric": model_run["holdout_metric"],
        "holdout_score": model_run["holdout_score"],
        "n_train": model_run["n_train"],
    }


def cluster_summary(customer_clusters: pd.DataFrame) -> dict:
    """Customers per cluster name: a collapsed or exploded segment shows at a glance."""
    return {"sizes": customer_clusters["cluster_name"].value_counts().to_dict()}


def score_summary(customer_scores: pd.DataFrame) -> dict:
    """The mean propensity (moves when the model or the customers change), what served each score
    (a `baseline_*` propensity or an `rfm_heuristic` churn or CLV means the model lost its gate
    or its fit was rejected) and for how many customers."""
    return {
        "mean_purchase_propensity": float(customer_scores["purchase_propensity"].mean()),
        "propensity_methods": customer_scores["propensity_method"].value_counts().to_dict(),
        "churn_methods": customer_scores["churn_method"].value_counts().to_dict(),
        "clv_methods": customer_scores["clv_method"].value_counts().to_dict(),
    }


def recommendation_summary(recommendations: pd.DataFrame) -> dict:
    """Recommendations per source: collaborative filtering against the popularity fallback."""
    return {"sources": recommendations["source"].value_counts().to_dict()}
