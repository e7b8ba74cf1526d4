"""customer_scores assembly, ground-truth helpers, and a whole run through the registry."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ml.btyd import METHOD_NONE
from ml.clustering import fit_clusters
from ml.evaluation import cluster_persona_agreement, clv_rank_correlation, persona_recovery, propensity_auc
from ml.features import KEY
from ml.runner import run_ml
from ml.scoring import SCORE_COLUMNS, assemble_customer_scores


def test_assembly_has_the_contract_columns_and_marks_prospects():
    prop = pd.DataFrame(
        {
            KEY: ["a", "b", "c"],
            "purchase_propensity": [0.9, 0.2, 0.1],
            "propensity_decile": [1, 5, 10],
            "propensity_method": ["baseline_rfm_score"] * 3,
        }
    )
    btyd = pd.DataFrame(
        {
            KEY: ["a", "b"],
            "churn_risk": [0.1, 0.7],
            "probability_alive": [0.9, 0.3],
            "expected_purchases_365d": [4.0, 0.5],
            "predicted_clv_365d": [400.0, 20.0],
            "clv_method": ["bgnbd_gamma_gamma", "bgnbd_gamma_gamma"],
            "churn_method": ["rfm_heuristic", "rfm_heuristic"],
        }
    )
    out = assemble_customer_scores(
        prop,
        btyd,
        propensity_model_version="p1",
        clv_model_version="c1",
        scored_at="2026-01-01",
        customers=pd.Series(["d"]),
    )
    assert tuple(out.columns) == SCORE_COLUMNS
    assert list(out[KEY]) == ["a", "b", "c", "d"]
    row = out.set_index(KEY)
    assert row.loc["c", "clv_method"] == METHOD_NONE and np.isnan(row.loc["c", "predicted_clv_365d"])
    assert row.loc["d", "clv_method"] == METHOD_NONE and pd.isna(row.loc["d", "propensity_decile"])
    assert row.loc["c", "churn_method"] == METHOD_NONE and row.loc["a", "churn_method"] == "rfm_heuristic"
    assert row.loc["a", "propensity_method"] == "baseline_rfm_score" and pd.isna(
        row.loc["d", "propensity_method"]
    )
    assert (out["propensity_model_version"] == "p1").all() and (
        out["scored_at"] == pd.Timestamp("2026-01-01")
    ).all()


def test_ground_truth_helpers_measure_agreement():
    clusters = pd.DataFrame(
        {KEY: list("abcdef"), "cluster_id": [0, 0, 1, 1, 2, 2], "cluster_name": list("xxyyzz")}
    )
    personas = pd.DataFrame({KEY: list("fedcba"), "persona": ["p", "p", "q", "q", "r", "r"]})
    assert cluster_persona_agreement(clusters, personas)["ari"] == pytest.approx(1.0)
    scores = pd.DataFrame(
        {KEY: list("abcd"), "purchase_propensity": [0.9, 0.8, 0.2, 0.1], "predicted_clv_365d": [4, 3, 2, 1]}
    )
    outcomes = pd.DataFrame(
        {KEY: list("abcd"), "orders_next_30d": [2, 1, 0, 0], "revenue_next_90d": [40, 30, 20, 10]}
    )
    assert propensity_auc(scores, outcomes)["roc_auc"] == 1.0
    assert clv_rank_correlation(scores, outcomes)["spearman"] == pytest.approx(1.0)


@pytest.mark.slow  # trains every model twice through the registry
def test_a_run_twice_through_the_registry(data, lean_clustering, lean_propensity, tmp_path):
    """Second run with the same as_of: the propensity and BTYD champions trained on their holdout
    (the cutoff, the last 90 days), so they are not compared (the fresher model wins); the other
    models are compared and an identical challenger is within tolerance. Outputs are identical
    between the runs."""
    kwargs = {
        "as_of": data.as_of,
        "models_dir": tmp_path,
        "clustering_config": lean_clustering,
        "propensity_config": replace(
            lean_propensity, candidates=("logistic_regression", "hist_gradient_boosting")
        ),
    }
    args = (data.customer_features, data.customer_labels, data.transactions, data.interactions, data.products)
    first = run_ml(*args, **kwargs)
    second = run_ml(*args, **kwargs)

    runs = first["model_runs"].set_index("model_name")
    assert set(runs.index) == {"clustering", "propensity", "btyd", "recommendations"}
    assert runs["promoted"].all()
    again = second["model_runs"].set_index("model_name")
    assert "not comparable" in again.loc["propensity", "reason"]
    assert again.loc["btyd", "promoted"] and "not comparable" in again.loc["btyd", "reason"]
    assert pd.isna(again.loc["btyd", "champion_score"])
    assert again.loc["clustering", "promoted"]
    assert (runs["data_fingerprint"] == again["data_fingerprint"]).all()

    t1, t2 = first["tables"], second["tables"]
    for name in ("customer_clusters", "customer_scores", "recommendations"):
        pd.testing.assert_frame_equal(
            t1[name].drop(columns=["propensity_model_version", "clv_model_version"], errors="ignore"),
            t2[name].drop(columns=["propensity_model_version", "clv_model_version"], errors="ignore"),
        )
    scores = t2["customer_scores"]
    latest = data.customer_features[data.customer_features["feature_as_of"] == data.as_of]
    assert len(scores) == len(latest)
    assert (scores["propensity_model_version"] == again.loc["propensity", "version"]).all()
    assert set(scores["clv_method"]) <= {"bgnbd_gamma_gamma", METHOD_NONE}
    assert {"feature", "psi", "status"} <= set(t2["drift"].columns)
    assert "purchase_propensity" in set(t2["drift"]["feature"])
    assert (t2["drift"]["status"] != "fail").all()
    assert len(list(tmp_path.glob("*/champion.json"))) == 4
    assert propensity_auc(scores, data.truth)["roc_auc"] > 0.75
    assert cluster_persona_agreement(t2["customer_clusters"], data.truth)["ari"] > 0.1


@pytest.mark.slow  # trains the clustering and a supervised ceiling on a simulated population
def test_persona_recovery_is_reported_next_to_a_supervised_ceiling(data, lean_clustering):
    """The ceiling is what a classifier told the personas reaches on the same features: above
    what clustering recovers here, and near zero once the personas are shuffled (nothing to see)."""
    clusters = fit_clusters(data.customer_features, config=lean_clustering).customer_clusters
    real = persona_recovery(clusters, data.customer_features, data.truth, folds=3)
    assert real["n"] == len(clusters)
    assert real["supervised_ceiling_ari"] > 0.3 and real["supervised_ceiling_ari"] >= real["ari"]
    shuffled = data.truth.assign(persona=data.truth["persona"].sample(frac=1.0, random_state=1).to_numpy())
    noise = persona_recovery(clusters, data.customer_features, shuffled, folds=3)
    assert abs(noise["supervised_ceiling_ari"]) < 0.05 and abs(noise["ari"]) < 0.05
