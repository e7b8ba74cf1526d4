"""Score with the current champions only — the daily job — while training runs on its own schedule
(ml.runner). Each function loads the champion from the registry and never trains or promotes."""

from __future__ import annotations

import pandas as pd

from ml.btyd import rfm_summary, score_btyd
from ml.cluster_report import cluster_profiles
from ml.clustering import assign_clusters
from ml.drift import psi_table
from ml.features import latest_customers, latest_cutoff
from ml.lifecycle import ModelRegistry
from ml.propensity import score_propensity
from ml.recommend import recommend
from ml.scoring import assemble_customer_scores

MODELS = ("clustering", "propensity", "btyd", "recommendations")


class NoChampionError(RuntimeError):
    """A model has never been trained: run the training job (or `make run`) first."""


def missing_champions(registry: ModelRegistry, models: tuple[str, ...] = MODELS) -> list[str]:
    return [name for name in models if registry.champion_version(name) is None]


def load_champion(registry: ModelRegistry, name: str):
    if registry.champion_version(name) is None:
        raise NoChampionError(
            f"no champion for {name} in {registry.root}: train first (Dagster job ml_training, or make run)"
        )
    return registry.load(name)


def score_clusters(features: pd.DataFrame, registry: ModelRegistry) -> dict[str, pd.DataFrame]:
    """customer_clusters and cluster_profiles of the latest cutoff, by the champion clustering
    (everyone in memory; the daily step runs ml.batch_scoring.write_customer_clusters)."""
    model, _ = load_champion(registry, "clustering")
    clusters = assign_clusters(model, features)
    profiles = cluster_profiles(latest_cutoff(features), clusters["cluster_id"].to_numpy(), model.names)
    return {"customer_clusters": clusters, "cluster_profiles": profiles}


def score_customers(
    features: pd.DataFrame,
    transactions: pd.DataFrame,
    registry: ModelRegistry,
    *,
    as_of,
    scored_at=None,
) -> dict[str, pd.DataFrame]:
    """customer_scores (propensity, churn, CLV) of the latest cutoff's customers, and the drift
    table: PSI of every feature and of the score, champion's training population vs today's.
    Everyone in memory at once: the daily step scores in bounded batches (ml.batch_scoring), whose
    tests and bench hold it to this function's result."""
    propensity, meta = load_champion(registry, "propensity")
    btyd, _ = load_champion(registry, "btyd")
    customers = latest_customers(features)
    propensity_scores = score_propensity(propensity, features)
    current = latest_cutoff(features).assign(
        purchase_propensity=propensity_scores["purchase_propensity"].to_numpy()
    )
    drift = psi_table(meta["reference_profile"], current)
    btyd_scores = score_btyd(btyd, rfm_summary(transactions, as_of), customers=customers)
    scores = assemble_customer_scores(
        propensity_scores,
        btyd_scores,
        propensity_model_version=registry.champion_version("propensity"),
        clv_model_version=registry.champion_version("btyd"),
        scored_at=scored_at if scored_at is not None else pd.Timestamp(as_of),
        customers=customers,
    )
    return {"customer_scores": scores, "drift": drift}


def score_recommendations(
    interactions: pd.DataFrame, customers: pd.Series, registry: ModelRegistry, *, as_of, n: int = 10
) -> pd.DataFrame:
    """Top n products per customer from the champion item-to-item model and today's histories."""
    model, _ = load_champion(registry, "recommendations")
    return recommend(model, interactions, n=n, customers=customers, as_of=as_of)
