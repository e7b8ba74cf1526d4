"""BG/NBD and Gamma-Gamma: definitions, parameter recovery, predictions, fallback, degeneracy and
the baseline gates on the fold."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from ml.btyd import (
    CHURN_BASELINE_METHOD,
    METHOD_HEURISTIC,
    METHOD_MODEL,
    METHOD_NONE,
    VALUE_BASELINE_METHOD,
    rfm_summary,
    score_btyd,
)
from ml.btyd_checks import degeneracy_problems
from ml.btyd_fit import fit_btyd
from ml.btyd_likelihoods import (
    BGNBDParams,
    GammaGammaParams,
    bgnbd_expected_purchases,
    bgnbd_probability_alive,
    fit_bgnbd,
    fit_gamma_gamma,
    simulate_bgnbd,
    simulate_gamma_gamma,
)
from ml.features import KEY
from ml.gates import GateSettings
from ml.lifecycle import ModelRegistry
from ml.runner import run_btyd

# Known parameters (CDNOW-like, rates per day) and the tolerances the recovery must meet with
# 20,000 simulated customers. Over 10 seeds the worst relative errors were 4/9/9/12 % (r, alpha,
# a, b) and 8/2/9 % (p, q, v), 0.7 % on the implied mean spend; tolerances leave headroom.
BG_TRUE = BGNBDParams(r=0.25, alpha=30.0, a=0.8, b=2.5)
GG_TRUE = GammaGammaParams(p=6.0, q=4.0, v=15.0)
BG_TOL = 0.20
GG_TOL = 0.15
GG_MEAN_TOL = 0.03


def _tx(rows):
    return pd.DataFrame(rows, columns=[KEY, "ordered_at", "revenue"]).assign(
        ordered_at=lambda d: pd.to_datetime(d["ordered_at"])
    )


def test_rfm_summary_uses_purchase_days_and_days_as_unit():
    tx = _tx(
        [
            ("a", "2025-01-01 09:00", 10.0),
            ("a", "2025-01-01 18:00", 5.0),  # same day: one purchase day worth 15
            ("a", "2025-01-11 10:00", 30.0),
            ("a", "2025-01-21 10:00", 50.0),
            ("b", "2025-01-05 12:00", 20.0),
            ("b", "2025-03-01 12:00", 99.0),  # after as_of: ignored
        ]
    )
    s = rfm_summary(tx, "2025-01-31").set_index(KEY)
    assert s.loc["a", "frequency"] == 2
    assert s.loc["a", "recency"] == 20.0
    assert s.loc["a", "T"] == 30.0
    assert s.loc["a", "monetary_value"] == pytest.approx(40.0)  # repeat days only: (30 + 50) / 2
    assert s.loc["a", "total_revenue"] == pytest.approx(95.0)
    assert s.loc["b", "frequency"] == 0
    assert s.loc["b", "monetary_value"] == 0.0
    assert s.loc["b", "T"] == 26.0


def test_bgnbd_recovers_known_parameters():
    T = np.random.default_rng(1).uniform(180, 720, 20_000)
    sim = simulate_bgnbd(BG_TRUE, T, seed=2)
    fit = fit_bgnbd(sim["frequency"], sim["recency"], sim["T"])
    assert fit.converged
    for name in ("r", "alpha", "a", "b"):
        got, want = getattr(fit.params, name), getattr(BG_TRUE, name)
        assert abs(got / want - 1) < BG_TOL, (name, got, want)


def test_gamma_gamma_recovers_known_parameters():
    x = np.random.default_rng(3).integers(1, 12, 20_000)
    m = simulate_gamma_gamma(GG_TRUE, x, seed=4)
    fit = fit_gamma_gamma(x, m)
    assert fit.converged
    for name in ("p", "q", "v"):
        got, want = getattr(fit.params, name), getattr(GG_TRUE, name)
        assert abs(got / want - 1) < GG_TOL, (name, got, want)
    implied = fit.params.p * fit.params.v / (fit.params.q - 1)
    assert abs(implied / (GG_TRUE.p * GG_TRUE.v / (GG_TRUE.q - 1)) - 1) < GG_MEAN_TOL


def test_conditional_expectation_and_alive_match_simulation():
    """Simulate a calibration period and a 180-day holdout; the model's conditional expectation
    of holdout purchases and P(alive) agree with what happened, per frequency group."""
    rng = np.random.default_rng(5)
    n, horizon = 30_000, 180.0
    T = rng.uniform(180, 540, n)
    lam = rng.gamma(BG_TRUE.r, 1 / BG_TRUE.alpha, n)
    p = rng.beta(BG_TRUE.a, BG_TRUE.b, n)
    t, x, tx, y = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    died_before_T = np.zeros(n, bool)
    active = np.ones(n, bool)
    while active.any():
        i = np.flatnonzero(active)
        tn = t[i] + rng.exponential(1 / lam[i])
        ok = tn <= T[i] + horizon
        active[i[~ok]] = False
        i, tn = i[ok], tn[ok]
        t[i] = tn
        cal = tn <= T[i]
        x[i[cal]] += 1
        tx[i[cal]] = tn[cal]
        y[i[~cal]] += 1
        dies = rng.random(i.size) < p[i]
        died_before_T[i[dies & cal]] = True
        active[i[dies]] = False
    expected = bgnbd_expected_purchases(BG_TRUE, horizon, x, tx, T)
    alive = bgnbd_probability_alive(BG_TRUE, x, tx, T)
    assert expected.mean() == pytest.approx(y.mean(), rel=0.05)
    for k in (1, 2, 3):
        g = x == k
        assert expected[g].mean() == pytest.approx(y[g].mean(), rel=0.1)
        assert alive[g].mean() == pytest.approx(1 - died_before_T[g].mean(), abs=0.03)


def test_fit_btyd_on_realistic_transactions(data):
    res = fit_btyd(data.transactions, data.as_of)
    assert res.model.method == METHOD_MODEL, res.model.reason
    s = res.scores
    assert (s["clv_method"] == METHOD_MODEL).all()
    assert s["probability_alive"].between(0, 1).all()
    np.testing.assert_allclose(s["churn_risk"], 1 - s["probability_alive"])
    assert (s["expected_purchases_365d"] >= 0).all() and (s["predicted_clv_365d"] >= 0).all()
    np.testing.assert_allclose(s["predicted_clv_365d"], s["expected_purchases_365d"] * s["expected_spend"])


def test_thin_data_falls_back_to_heuristic_and_says_why(data):
    few = data.transactions[data.transactions[KEY].isin(data.transactions[KEY].unique()[:60])]
    res = fit_btyd(few, data.as_of)
    assert res.model.method == METHOD_HEURISTIC
    assert "thin data" in res.model.reason
    s = res.scores
    assert (s["clv_method"] == METHOD_HEURISTIC).all()
    assert s["clv_method_reason"].str.contains("thin data").all()
    assert s["probability_alive"].between(0, 1).all()
    assert np.isfinite(s["predicted_clv_365d"]).all() and (s["predicted_clv_365d"] >= 0).all()


def test_non_converging_fit_falls_back_and_is_flagged(data):
    res = fit_btyd(data.transactions, data.as_of, maxiter=1)
    assert res.model.method == METHOD_HEURISTIC
    assert "did not converge" in res.model.reason
    assert (res.scores["clv_method"] == METHOD_HEURISTIC).all()
    assert res.model.diagnostics["bgnbd_fit"]["converged"] is False


def test_customers_without_purchases_are_marked_not_guessed(data):
    res = fit_btyd(data.transactions, data.as_of)
    summary = rfm_summary(data.transactions, data.as_of)
    everyone = pd.concat([summary[KEY], pd.Series(["never-bought-1", "never-bought-2"])])
    s = score_btyd(res.model, summary, customers=everyone).set_index(KEY)
    assert s.loc["never-bought-1", "clv_method"] == METHOD_NONE
    assert np.isnan(s.loc["never-bought-1", "predicted_clv_365d"])


def test_discounting_lowers_clv_but_not_purchases(data):
    plain = fit_btyd(data.transactions, data.as_of).scores
    disc = fit_btyd(data.transactions, data.as_of, monthly_discount_rate=0.02).scores
    np.testing.assert_allclose(plain["expected_purchases_365d"], disc["expected_purchases_365d"], rtol=1e-9)
    assert (disc["predicted_clv_365d"] <= plain["predicted_clv_365d"] + 1e-9).all()
    assert disc["predicted_clv_365d"].sum() < 0.95 * plain["predicted_clv_365d"].sum()


def test_btyd_is_deterministic(data):
    a = fit_btyd(data.transactions, data.as_of).scores
    b = fit_btyd(data.transactions.sample(frac=1.0, random_state=3), data.as_of).scores
    pd.testing.assert_frame_equal(a, b)


AS_OF = pd.Timestamp("2026-01-01")


def _buyer(rows, rng, key: str, start, stop, gap_days: float) -> None:
    """Purchases every ~gap_days from start to stop, spend around the customer's own mean."""
    t, mean = start, rng.lognormal(3.5, 0.5)
    while t < stop:
        rows.append((key, t, mean * rng.gamma(4) / 4))
        t += pd.Timedelta(days=gap_days * rng.uniform(0.5, 1.5))


def _frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[KEY, "ordered_at", "revenue"])


def test_a_fit_that_says_nobody_drops_out_is_degenerate_and_not_served():
    """The Online Retail failure (a ~ 0.001, b in the hundreds, P(alive) ~ 1 for everyone): the
    fit converges inside the search box and passed the old plausibility checks; now it is caught
    by its mean dropout and its P(alive) spread, and the fit serves neither churn nor value."""
    rng = np.random.default_rng(0)
    rows: list = []
    for i in range(600):
        start = AS_OF - pd.Timedelta(days=rng.uniform(200, 400))
        _buyer(rows, rng, f"c{i}", start, AS_OF, rng.uniform(10, 60))
    res = fit_btyd(_frame(rows), AS_OF)
    params = res.model.diagnostics["bgnbd_fit"]["params"]
    assert params["a"] / (params["a"] + params["b"]) < 1e-3
    assert METHOD_MODEL not in (res.model.method, res.model.served_churn_method)
    assert res.model.bgnbd is None
    degeneracy = res.model.diagnostics["degeneracy"]
    assert any("nobody drops out" in d for d in degeneracy)
    assert any("P(alive)" in d and "spread" in d for d in degeneracy)
    assert not (res.scores["churn_method"] == METHOD_MODEL).any()


def test_a_healthy_looking_fit_whose_churn_ranking_is_worse_than_a_coin_is_degenerate():
    """Parameters well inside the box and a real dropout rate, but one-time buyers (whom BG/NBD
    holds alive with probability 1) never come back: churn AUC on the fold <= 0.5 is caught."""
    rng = np.random.default_rng(0)
    rows: list = []
    for i in range(300):  # still buying
        _buyer(
            rows, rng, f"a{i}", AS_OF - pd.Timedelta(days=rng.uniform(300, 400)), AS_OF, rng.uniform(15, 40)
        )
    for i in range(200):  # repeat buyers who stopped long ago
        start = AS_OF - pd.Timedelta(days=rng.uniform(300, 400))
        _buyer(
            rows, rng, f"b{i}", start, start + pd.Timedelta(days=rng.uniform(60, 120)), rng.uniform(15, 40)
        )
    for i in range(700):  # one purchase, never again
        rows.append((f"c{i}", AS_OF - pd.Timedelta(days=rng.uniform(100, 400)), rng.lognormal(3.5, 0.5)))
    res = fit_btyd(_frame(rows), AS_OF)
    params = res.model.diagnostics["bgnbd_fit"]["params"]
    assert 0.01 < params["a"] / (params["a"] + params["b"]) < 0.5
    fold = res.model.diagnostics["fold"]
    assert fold[METHOD_MODEL]["churn_roc_auc"] <= 0.5
    assert METHOD_MODEL not in (res.model.method, res.model.served_churn_method)
    assert "churn ROC AUC" in res.model.reason and "degenerate" in res.model.reason
    assert fold[METHOD_HEURISTIC]["churn_roc_auc"] > 0.5


def test_degeneracy_rules_pass_a_healthy_fit_and_flag_a_degenerate_one():
    summary = simulate_bgnbd(BG_TRUE, np.full(2000, 270.0), seed=4)
    assert degeneracy_problems(BG_TRUE, summary) == []
    problems = degeneracy_problems(BGNBDParams(r=0.2, alpha=4.0, a=0.001, b=355.0), summary)
    assert len(problems) == 2


def test_churn_risk_that_loses_to_days_since_last_purchase_is_replaced_and_named(data):
    """On the synthetic data BG/NBD value beats historic spend on the fold, but neither its churn
    risk nor the heuristic's beats days since the last purchase by the margin: value stays the
    model's, churn risk is the calibrated baseline (ranked exactly by days since the last
    purchase), and the scores and the report say so."""
    res = fit_btyd(data.transactions, data.as_of)
    gates = res.model.diagnostics["fold"]["gates"]
    churn = {g["model"]: g for g in gates if g["score"] == "churn_risk"}
    value = [g for g in gates if g["score"] == "predicted_clv"]
    assert value[0]["model"] == METHOD_MODEL and value[0]["passed"] and res.model.method == METHOD_MODEL
    assert not churn[METHOD_MODEL]["passed"] and not churn[METHOD_HEURISTIC]["passed"], churn
    assert res.model.served_churn_method == CHURN_BASELINE_METHOD
    assert (res.scores["churn_method"] == CHURN_BASELINE_METHOD).all()
    assert res.report["churn_method"] == CHURN_BASELINE_METHOD
    assert "does not beat" in res.report["churn_reason"]
    silent = res.summary["T"] - res.summary["recency"]
    rho = spearmanr(silent, res.scores.set_index(KEY).loc[res.summary[KEY], "churn_risk"]).statistic
    assert rho == pytest.approx(1.0)
    heuristic = score_btyd(replace(res.model, method=METHOD_HEURISTIC), res.summary)
    assert not np.allclose(res.scores["predicted_clv_365d"], heuristic["predicted_clv_365d"])


def test_a_value_no_better_than_historic_spend_is_replaced_by_historic_spend(data):
    """With a margin nothing can reach, both scores are the naive baselines, in the scores' units:
    value ranked exactly by historic spend, expected purchases by purchase days so far."""
    res = fit_btyd(data.transactions, data.as_of, gates=GateSettings(clv_margin=2.0, churn_margin=2.0))
    assert res.model.method == VALUE_BASELINE_METHOD and res.model.bgnbd is None
    s = res.scores.set_index(KEY).loc[res.summary[KEY]]
    assert spearmanr(res.summary["total_revenue"], s["predicted_clv_365d"]).statistic == pytest.approx(1.0)
    assert spearmanr(res.summary["n_purchase_days"], s["expected_purchases_365d"]).statistic == pytest.approx(
        1.0
    )
    np.testing.assert_allclose(s["predicted_clv_365d"], s["expected_purchases_365d"] * s["expected_spend"])
    assert (s["clv_method"] == VALUE_BASELINE_METHOD).all() and s["predicted_clv_365d"].gt(0).all()
    assert res.fold_model.method == VALUE_BASELINE_METHOD


def test_without_a_fold_the_gates_are_not_run(data):
    res = fit_btyd(data.transactions, data.as_of, holdout_days=None)
    assert res.model.method == METHOD_MODEL and res.model.served_churn_method == METHOD_MODEL
    assert "fold" not in res.model.diagnostics and res.fold_model is None


def test_btyd_champion_is_never_judged_on_the_fold_it_trained_on(data, tmp_path):
    """Champion vs challenger compares both on the last `holdout_days` before as_of, the fold the
    challenger was fit before. A champion whose training reached into that fold would win on
    memory, so it is not compared there (the fresher model is promoted); a champion trained
    before the fold starts is."""
    registry = ModelRegistry(tmp_path)
    as_of = pd.Timestamp(data.as_of)
    early = run_btyd(data.transactions, registry, as_of=as_of - pd.Timedelta(days=120), holdout_days=90)
    assert early.model_run["promoted"]
    compared = run_btyd(data.transactions, registry, as_of=as_of, holdout_days=90)
    assert compared.model_run["champion_score"] is not None
    assert "not comparable" not in compared.model_run["reason"]
    again = run_btyd(data.transactions, registry, as_of=as_of, holdout_days=90)
    assert again.model_run["champion_score"] is None
    assert again.model_run["promoted"] and "not comparable" in again.model_run["reason"]
