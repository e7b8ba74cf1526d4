"""The backtest's evaluation: outcomes counted in their window only, each task scored for the
model and every baseline in the direction that helps it, and a horizon past the data refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ml.backtest import (
    BacktestError,
    comparison,
    evaluate,
    outcomes,
    parse_horizons,
    render_markdown,
    scored_population,
    top_decile_lift,
)

AS_OF = pd.Timestamp("2026-04-01")


def _inputs(n: int = 200, seed: int = 0):
    rng = np.random.default_rng(seed)
    keys = [f"k{i:03d}" for i in range(n)]
    will_buy = rng.random(n) < 0.3
    recency = np.where(will_buy, rng.integers(1, 30, n), rng.integers(20, 300, n)).astype(float)
    recency[:10] = np.nan  # never bought before as_of
    frequency = np.where(np.isnan(recency), 0, rng.integers(1, 6, n))
    scores = pd.DataFrame(
        {
            "customer_key": keys,
            "purchase_propensity": np.where(will_buy, 0.6, 0.1) + rng.normal(0, 0.05, n),
            "churn_risk": np.where(will_buy, 0.2, 0.8),
            "predicted_clv_365d": np.where(will_buy, 300.0, 20.0) + rng.normal(0, 5, n),
        }
    )
    features = pd.DataFrame(
        {
            "customer_key": keys,
            "recency_days": recency,
            "frequency_orders": frequency,
            "monetary_total": frequency * 40,
        }
    )
    rfm = pd.DataFrame({"customer_key": keys, "r_score": 3, "f_score": 3, "m_score": frequency})
    buyers = np.flatnonzero(will_buy)
    purchases = pd.DataFrame(
        {
            "customer_key": [keys[i] for i in buyers],
            "ordered_at": AS_OF + pd.to_timedelta(rng.integers(0, 29, len(buyers)), unit="D"),
            "revenue": rng.uniform(10, 100, len(buyers)),
        }
    )
    before = pd.DataFrame(
        {"customer_key": [keys[0]], "ordered_at": [AS_OF - pd.Timedelta(days=1)], "revenue": [9.0]}
    )
    later = pd.DataFrame(
        {"customer_key": [keys[1]], "ordered_at": [AS_OF + pd.Timedelta(days=45)], "revenue": [5.0]}
    )
    return scored_population(scores, features, rfm), pd.concat([purchases, before, later]), will_buy


def test_outcomes_count_only_the_window_after_as_of():
    population, purchases, will_buy = _inputs()
    thirty = outcomes(population, purchases, as_of=AS_OF, horizon_days=30)
    sixty = outcomes(population, purchases, as_of=AS_OF, horizon_days=60)
    assert ((thirty["orders"] > 0).to_numpy() == will_buy).all(), "a purchase before as_of is not an outcome"
    assert sixty["orders"].sum() == thirty["orders"].sum() + 1


def test_every_task_is_scored_for_the_model_and_each_baseline():
    population, purchases, _ = _inputs()
    result = evaluate(
        population, purchases, as_of=AS_OF, horizons="30,60", purchases_until=AS_OF + pd.Timedelta(days=90)
    )
    table = result.table
    for horizon in (30, 60):
        for scorer in ("model", "recency", "frequency", "rfm_score", "historic_spend"):
            found = set(table.loc[(table["horizon_days"] == horizon) & (table["scorer"] == scorer), "metric"])
            assert {"roc_auc", "pr_auc", "top_decile_lift", "spearman"} <= found, (horizon, scorer)
    model_auc = table.query(
        "horizon_days == 30 and task == 'purchase' and scorer == 'model' and metric == 'roc_auc'"
    )
    assert model_auc["value"].iloc[0] > 0.95
    recency_auc = table.query(
        "horizon_days == 30 and task == 'purchase' and scorer == 'recency' and metric == 'roc_auc'"
    )
    assert recency_auc["value"].iloc[0] > 0.8, "recency is scored so that more recent ranks higher"
    churn = table.query(
        "horizon_days == 30 and task == 'churn' and scorer == 'recency' and metric == 'roc_auc'"
    )
    assert churn["value"].iloc[0] > 0.8, "for churn the baselines are turned around"
    assert churn["customers"].iloc[0] == 190, "churn is judged among customers who had bought before"
    assert set(result.calibration["decile"]) == set(range(1, 11))
    assert {"roc", "calibration"} <= set(result.plots)
    wide = comparison(table)
    assert "model_minus_best_baseline" in wide.columns
    report = render_markdown(result, title="Backtest")
    assert "| 30 d | purchase | ROC AUC |" in report and "Calibration" in report


def test_a_horizon_past_the_landed_data_is_refused():
    population, purchases, _ = _inputs()
    with pytest.raises(BacktestError, match="reach past them"):
        evaluate(
            population,
            purchases,
            as_of=AS_OF,
            horizons=[30, 90],
            purchases_until=AS_OF + pd.Timedelta(days=60),
        )


def test_horizons_and_lift():
    assert parse_horizons("90, 30,30") == [30, 90]
    with pytest.raises(BacktestError):
        parse_horizons("0")
    y = np.array([1] * 10 + [0] * 90)
    assert top_decile_lift(
        y, -np.arange(100.0), np.array([f"k{i:03d}" for i in range(100)])
    ) == pytest.approx(10)
