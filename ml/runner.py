"""Train -> register (champion/challenger) -> score with the champion, one function per model.

These are what the Dagster assets call; each returns plain DataFrames, a model_runs record,
a JSON-able report and PNG plots. `run_ml` chains them for a whole run (tests, benchmarks,
notebooks). Outputs always come from the CHAMPION, which is the new model only when it was
promoted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from ml.btyd import holdout_purchase_mae, rfm_summary, score_btyd
from ml.btyd_fit import fit_btyd
from ml.cluster_report import cluster_profiles
from ml.clustering import ClusteringConfig, assign_clusters, fit_clusters, silhouette_in_space
from ml.drift import psi_table, reference_profile
from ml.features import KEY, latest_customers, latest_cutoff
from ml.gates import GateSettings
from ml.lifecycle import ModelRegistry, register_model
from ml.propensity import PropensityConfig, holdout_pr_auc, score_propensity, train_propensity
from ml.recommend import fit_item_cf, hit_rate, recommend
from ml.scoring import assemble_customer_scores


@dataclass
class StageOutput:
    tables: dict[str, pd.DataFrame]
    model_run: dict
    report: dict
    plots: dict[str, bytes] = field(default_factory=dict)


def _now(trained_at):
    return trained_at or datetime.now(UTC)


def _trained_after(meta: dict, key: str, start: pd.Timestamp, *, inclusive: bool) -> str | None:
    """Why a champion cannot be judged on a holdout starting at `start`, or None."""
    end = (meta.get("training_window") or {}).get(key)
    if end is None:
        return None
    end = pd.Timestamp(end)
    if end > start or (inclusive and end == start):
        return f"its training data reach {end}, the holdout starts at {start}"
    return None


def run_clustering(
    features: pd.DataFrame,
    registry: ModelRegistry,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    config: ClusteringConfig | None = None,
    tolerance: float = 0.02,
    trained_at: datetime | None = None,
) -> StageOutput:
    """Tables: customer_clusters, cluster_profiles. Holdout metric: silhouette of each model's
    assignment in the challenger's feature space on the same customer sample."""
    res = fit_clusters(features, numeric=numeric, categorical=categorical, config=config)
    new = res.model
    run = register_model(
        registry,
        "clustering",
        new,
        challenger_score=silhouette_in_space(new, features, new),
        evaluate=lambda m: silhouette_in_space(m, features, new),
        metric_name="silhouette_common_space",
        tolerance=tolerance,
        training_frame=latest_cutoff(features)[[KEY, *new.spec.columns]],
        training_window={"start": str(pd.to_datetime(features["feature_as_of"]).max())},
        features=new.spec.to_dict(),
        metrics={
            k: res.report[k]
            for k in ("algorithm", "k", "silhouette", "stability_ari_mean", "stability_ari_std")
        },
        random_state=new.random_state,
        trained_at=_now(trained_at),
        extra_metadata={"report": res.report},
    )
    if run["promoted"]:
        clusters, profiles = res.customer_clusters, res.cluster_profiles
    else:
        champ, _ = registry.load("clustering")
        clusters = assign_clusters(champ, features)
        df = latest_cutoff(features)
        profiles = cluster_profiles(df, clusters["cluster_id"].to_numpy(), champ.names)
    return StageOutput(
        {"customer_clusters": clusters, "cluster_profiles": profiles}, run, res.report, res.plots
    )


def run_propensity(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    registry: ModelRegistry,
    *,
    as_of,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    transactions: pd.DataFrame | None = None,
    config: PropensityConfig | None = None,
    tolerance: float = 0.005,
    trained_at: datetime | None = None,
) -> StageOutput:
    """Tables: propensity_scores (customer_key, purchase_propensity, propensity_decile) and
    drift (PSI of features and score, training vs scoring population, champion's reference)."""
    res = train_propensity(
        features,
        labels,
        as_of=as_of,
        numeric=numeric,
        categorical=categorical,
        transactions=transactions,
        config=config,
    )
    spec = res.model.spec
    holdout_cutoff = pd.Timestamp(res.holdout["feature_as_of"].max())
    train_scores = pd.DataFrame({"purchase_propensity": res.model.predict_proba(res.training_frame)})
    profile = reference_profile(res.training_frame, spec.numeric, spec.categorical)
    profile["numeric"].update(reference_profile(train_scores, ["purchase_propensity"])["numeric"])
    run = register_model(
        registry,
        "propensity",
        res.model,
        challenger_score=holdout_pr_auc(res.holdout_model, res.holdout),
        evaluate=lambda m: holdout_pr_auc(m, res.holdout),
        metric_name="holdout_pr_auc",
        champion_comparable=lambda meta: _trained_after(meta, "last_cutoff", holdout_cutoff, inclusive=True),
        tolerance=tolerance,
        training_frame=res.training_frame,
        training_window=res.training_window,
        features=spec.to_dict(),
        metrics={
            "chosen": res.report["chosen"],
            "served_kind": res.report["served_kind"],
            "gate": res.report["gate"],
            **res.report["holdout_metrics"],
        },
        random_state=res.report["random_state"],
        trained_at=_now(trained_at),
        extra_metadata={"reference_profile": profile, "report": res.report},
    )
    champ, meta = registry.load("propensity")
    scores = res.scores if run["promoted"] else score_propensity(champ, features)
    current = latest_cutoff(features).assign(purchase_propensity=scores["purchase_propensity"].to_numpy())
    drift = psi_table(meta["reference_profile"], current)
    return StageOutput({"propensity_scores": scores, "drift": drift}, run, res.report, res.plots)


def run_btyd(
    transactions: pd.DataFrame,
    registry: ModelRegistry,
    *,
    as_of,
    customers: pd.Series | None = None,
    horizon_days: int = 365,
    monthly_discount_rate: float = 0.0,
    holdout_days: int = 90,
    tolerance: float = 0.02,
    gates: GateSettings | None = None,
    trained_at: datetime | None = None,
) -> StageOutput:
    """Tables: btyd_scores (probability_alive, churn_risk, expected purchases, CLV, clv_method,
    churn_method). Holdout metric: MAE of expected purchase days over the last `holdout_days`
    (lower is better), the challenger as fit on the history before them (the fold that also
    gated it: ml.btyd_checks). A champion fit on transactions reaching into those days is not
    judged on them (it would win on memory): the fresher model is promoted."""
    res = fit_btyd(
        transactions,
        as_of,
        horizon_days=horizon_days,
        monthly_discount_rate=monthly_discount_rate,
        holdout_days=holdout_days,
        gates=gates,
    )
    hold = res.fold_model
    fold_start = pd.Timestamp(as_of) - pd.Timedelta(days=holdout_days)
    run = register_model(
        registry,
        "btyd",
        res.model,
        challenger_score=holdout_purchase_mae(hold, transactions, as_of, holdout_days=holdout_days),
        evaluate=lambda m: holdout_purchase_mae(m, transactions, as_of, holdout_days=holdout_days),
        metric_name=f"holdout_{holdout_days}d_purchase_mae",
        champion_comparable=lambda meta: _trained_after(meta, "end", fold_start, inclusive=False),
        higher_is_better=False,
        tolerance=tolerance,
        training_frame=res.summary,
        training_window={"end": str(pd.Timestamp(as_of))},
        features={"time_unit": "days"},
        metrics={
            "method": res.model.method,
            "reason": res.model.reason,
            "churn_method": res.model.served_churn_method,
            **res.model.diagnostics,
        },
        trained_at=_now(trained_at),
        extra_metadata={"report": res.report},
    )
    champ, _ = registry.load("btyd")
    champ = replace(champ, horizon_days=horizon_days, monthly_discount_rate=monthly_discount_rate)
    scores = score_btyd(champ, rfm_summary(transactions, as_of), customers=customers)
    return StageOutput({"btyd_scores": scores}, run, res.report)


def run_recommendations(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    registry: ModelRegistry,
    *,
    as_of,
    customers: pd.Series | None = None,
    n: int = 10,
    test_days: int = 30,
    tolerance: float = 0.01,
    trained_at: datetime | None = None,
) -> StageOutput:
    """Tables: recommendations (customer_key, rank, product_id, score, source). Holdout metric:
    hit rate @n on the last `test_days` for a model trained before them."""
    split = pd.Timestamp(as_of) - pd.Timedelta(days=test_days)
    model = fit_item_cf(interactions, products, as_of=as_of)
    hold = fit_item_cf(interactions, products, as_of=split)
    hr = hit_rate(hold, interactions, split_at=split, n=n, test_days=test_days)
    pop = hit_rate(hold, interactions, split_at=split, n=n, test_days=test_days, use_cf=False)
    run = register_model(
        registry,
        "recommendations",
        model,
        challenger_score=hr["hit_rate"],
        evaluate=lambda m: hit_rate(m, interactions, split_at=split, n=n, test_days=test_days)["hit_rate"],
        metric_name=f"hit_rate_at_{n}",
        champion_comparable=lambda meta: _trained_after(meta, "end", split, inclusive=False),
        tolerance=tolerance,
        training_frame=interactions[pd.to_datetime(interactions["occurred_at"]) < pd.Timestamp(as_of)],
        training_window={"end": model.trained_until},
        features={"weights": model.weights, "n_neighbours": model.n_neighbours},
        metrics={"holdout": hr, "popularity_baseline": pop},
        trained_at=_now(trained_at),
    )
    champ, _ = registry.load("recommendations")
    recs = recommend(champ, interactions, n=n, customers=customers, as_of=as_of)
    return StageOutput({"recommendations": recs}, run, {"holdout": hr, "popularity_baseline": pop})


def run_ml(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    transactions: pd.DataFrame,
    interactions: pd.DataFrame | None,
    products: pd.DataFrame | None,
    *,
    as_of,
    models_dir,
    scored_at=None,
    clustering_config: ClusteringConfig | None = None,
    propensity_config: PropensityConfig | None = None,
    trained_at: datetime | None = None,
) -> dict:
    """Every model of a run. Returns {'tables': {...}, 'model_runs': DataFrame, 'reports': {...},
    'plots': {...}} with tables customer_clusters, cluster_profiles, customer_scores,
    recommendations (if interactions and products are given) and drift."""
    registry = ModelRegistry(models_dir)
    customers = latest_customers(features)
    stages = {
        "clustering": run_clustering(features, registry, config=clustering_config, trained_at=trained_at),
        "propensity": run_propensity(
            features, labels, registry, as_of=as_of, config=propensity_config, trained_at=trained_at
        ),
        "btyd": run_btyd(transactions, registry, as_of=as_of, customers=customers, trained_at=trained_at),
    }
    if interactions is not None and products is not None and len(interactions):
        stages["recommendations"] = run_recommendations(
            interactions, products, registry, as_of=as_of, customers=customers, trained_at=trained_at
        )
    runs = {k: s.model_run for k, s in stages.items()}
    prop_version = registry.champion_version("propensity")
    clv_version = registry.champion_version("btyd")
    scores = assemble_customer_scores(
        stages["propensity"].tables["propensity_scores"],
        stages["btyd"].tables["btyd_scores"],
        propensity_model_version=prop_version,
        clv_model_version=clv_version,
        scored_at=scored_at if scored_at is not None else pd.Timestamp(as_of),
        customers=customers,
    )
    tables = {
        "customer_clusters": stages["clustering"].tables["customer_clusters"],
        "cluster_profiles": stages["clustering"].tables["cluster_profiles"],
        "customer_scores": scores,
        "drift": stages["propensity"].tables["drift"],
    }
    if "recommendations" in stages:
        tables["recommendations"] = stages["recommendations"].tables["recommendations"]
    model_runs = pd.DataFrame(list(runs.values()))
    model_runs["promoted"] = model_runs["promoted"].astype(bool)
    return {
        "tables": tables,
        "model_runs": model_runs,
        "reports": {k: s.report for k, s in stages.items()},
        "plots": {f"{k}/{name}": png for k, s in stages.items() for name, png in s.plots.items()},
        "n_customers": int(np.asarray(customers).size),
    }
