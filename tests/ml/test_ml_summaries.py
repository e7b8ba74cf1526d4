"""What the ML assets show: training summaries, scoring summaries, plots beside the model."""

import pandas as pd
import pytest

from ml.features import CUTOFF, KEY, latest_customers
from ml.lifecycle import save_plots
from ml.summaries import cluster_summary, recommendation_summary, score_summary, training_summary

RUN = {
    "version": "20260101T000000Z-abcdef12",
    "promoted": True,
    "reason": "no comparable champion",
    "champion_version": None,
    "holdout_metric": "holdout_pr_auc",
    "holdout_score": 0.61,
    "n_train": 1200,
    "artifact_path": "unused",
}


def test_a_first_model_shows_none_as_the_champion_it_was_compared_with():
    summary = training_summary(RUN)
    assert summary["champion_version"] == "none"
    assert summary == {
        "version": "20260101T000000Z-abcdef12",
        "promoted": True,
        "reason": "no comparable champion",
        "champion_version": "none",
        "holdout_metric": "holdout_pr_auc",
        "holdout_score": 0.61,
        "n_train": 1200,
    }


def test_a_rejected_challenger_shows_the_champion_that_kept_its_title():
    run = {**RUN, "promoted": False, "champion_version": "20251201T000000Z-00000000"}
    summary = training_summary(run)
    assert summary["promoted"] is False and summary["champion_version"] == "20251201T000000Z-00000000"


def test_cluster_sizes_are_counted_per_cluster_name():
    clusters = pd.DataFrame({"cluster_name": ["Prospects", "Prospects", "Lapsed Buyers"]})
    assert cluster_summary(clusters) == {"sizes": {"Prospects": 2, "Lapsed Buyers": 1}}


def test_a_score_summary_shows_the_mean_propensity_and_what_served_each_score():
    scores = pd.DataFrame(
        {
            "purchase_propensity": [0.2, 0.4],
            "propensity_method": ["baseline_rfm_score", "baseline_rfm_score"],
            "churn_method": ["rfm_heuristic", "no_purchase_history"],
            "clv_method": ["bgnbd_gamma_gamma", "no_purchase_history"],
        }
    )
    summary = score_summary(scores)
    assert summary["mean_purchase_propensity"] == pytest.approx(0.3)
    assert summary["propensity_methods"] == {"baseline_rfm_score": 2}
    assert summary["churn_methods"] == {"rfm_heuristic": 1, "no_purchase_history": 1}
    assert summary["clv_methods"] == {"bgnbd_gamma_gamma": 1, "no_purchase_history": 1}


def test_recommendations_are_counted_per_source():
    recs = pd.DataFrame({"source": ["item_cf", "item_cf", "popularity"]})
    assert recommendation_summary(recs) == {"sources": {"item_cf": 2, "popularity": 1}}


def test_plots_are_saved_beside_the_model_they_belong_to(tmp_path):
    artifact = tmp_path / "propensity" / "v1" / "model.joblib"
    paths = save_plots({"artifact_path": str(artifact)}, {"roc.png": b"\x89PNG roc"})
    assert paths["roc.png"].parent == artifact.parent / "plots"
    assert paths["roc.png"].read_bytes() == b"\x89PNG roc"


def test_the_customers_scored_today_are_those_of_the_latest_cutoff_sorted_by_key():
    features = pd.DataFrame(
        {
            KEY: ["b", "a", "c", "z"],
            CUTOFF: pd.to_datetime(["2026-01-01", "2026-01-01", "2026-01-01", "2025-12-01"]),
        }
    )
    assert list(latest_customers(features)) == ["a", "b", "c"]
