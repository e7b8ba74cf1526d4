"""Baseline gates: the margin rule, selection that never sees the reported fold, the propensity
gate end to end (a baseline served and named), the naive baselines themselves and the checks."""

import numpy as np
import pandas as pd
import pytest

from ml.baselines import BASELINES, baseline_pipeline
from ml.gates import BEATS_BASELINE_CHECK, NOT_DEGENERATE_CHECK, GateSettings, decide, training_verdicts
from ml.propensity import train_propensity
from ml.propensity_selection import choose_candidate, selection_folds
from ml.synthetic_champions import quick_propensity


def _decide(model_value, baselines, margin=0.01):
    return decide(
        "purchase_propensity",
        metric="roc_auc",
        margin=margin,
        model="m",
        model_value=model_value,
        baselines=baselines,
        fallback="b1",
    )


def test_the_model_is_served_only_when_it_beats_the_best_baseline_by_the_margin():
    assert _decide(0.75, {"b1": 0.70, "b2": 0.74}).served == "m"
    lost = _decide(0.745, {"b1": 0.70, "b2": 0.74})
    assert not lost.passed and lost.served == "b1" and "b2" in lost.reason
    assert _decide(float("nan"), {"b1": 0.7}).served == "b1"
    assert _decide(0.6, {"b1": float("nan")}).served == "m"


def test_selection_never_looks_at_the_fold_it_reports():
    """m2 wins only on the last fold; selection over the earlier folds picks m1."""
    results = {
        "m1": {"eligible": True, "folds": [{"pr_auc": 0.6}, {"pr_auc": 0.6}, {"pr_auc": 0.5}]},
        "m2": {"eligible": True, "folds": [{"pr_auc": 0.5}, {"pr_auc": 0.5}, {"pr_auc": 0.9}]},
    }
    folds = selection_folds(3)
    assert folds == [0, 1]
    assert choose_candidate(results, ["m1", "m2"], folds) == "m1"
    assert selection_folds(1) == [0]


@pytest.mark.parametrize("name", BASELINES)
def test_each_baseline_ranks_by_its_own_rule(name):
    frame = pd.DataFrame(
        {
            "recency_days": [5.0, 50.0, 400.0, np.nan],
            "frequency_orders": [6, 3, 1, 0],
            "monetary_total": [600.0, 300.0, 50.0, 0.0],
        }
    )
    y = np.array([1, 1, 0, 0])
    p = baseline_pipeline(name).fit(pd.concat([frame] * 5), np.tile(y, 5)).predict_proba(frame)[:, 1]
    assert p[0] >= p[1] >= p[2] >= p[3] and p[0] > p[3], (name, p)


@pytest.fixture(scope="module")
def gated(data):
    """One candidate and an impossible margin: the model cannot pass, a baseline must be served."""
    cfg = quick_propensity(
        "logistic_regression", importance_rows=300, gates=GateSettings(propensity_margin=0.5)
    )
    return train_propensity(data.customer_features, data.customer_labels, as_of=data.as_of, config=cfg)


def test_a_model_that_does_not_beat_its_baseline_is_replaced_by_it_and_says_so(gated):
    rep = gated.report
    assert rep["model_choice"] == "logistic_regression"
    assert rep["served_kind"] == "baseline" and rep["chosen"] in BASELINES
    assert not rep["gate"]["passed"] and rep["gate"]["served"] == rep["chosen"]
    assert set(rep["gate"]["baselines"]) == set(BASELINES)
    assert rep["report_fold"] == rep["folds"][-1] and rep["report_fold"] not in rep["selection_folds"]
    assert not rep["selection_saw_report_fold"]
    assert (gated.scores["propensity_method"] == rep["chosen"]).all()
    assert gated.model.algorithm == rep["chosen"]
    verdict = training_verdicts("propensity", rep)[BEATS_BASELINE_CHECK]
    assert not verdict.passed and verdict.served == {"purchase_propensity": rep["chosen"]}


def test_btyd_verdicts_warn_on_degeneracy_and_on_a_served_heuristic():
    report = {
        "method": "rfm_heuristic",
        "churn_method": "rfm_heuristic",
        "reason": "BG/NBD degenerate: ...",
        "diagnostics": {"degeneracy": ["BG/NBD degenerate: ..."], "fold": {"gates": []}},
    }
    verdicts = training_verdicts("btyd", report)
    assert not verdicts[NOT_DEGENERATE_CHECK].passed and not verdicts[BEATS_BASELINE_CHECK].passed
    healthy = {**report, "method": "bgnbd_gamma_gamma", "churn_method": "bgnbd_gamma_gamma"}
    healthy["diagnostics"] = {"degeneracy": [], "fold": {"gates": [{"reason": "beats"}]}}
    verdicts = training_verdicts("btyd", healthy)
    assert verdicts[NOT_DEGENERATE_CHECK].passed and verdicts[BEATS_BASELINE_CHECK].passed
