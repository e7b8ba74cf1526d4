"""Fitting BG/NBD + Gamma-Gamma and deciding what serves each score (ml.btyd scores it).

The fits are used only when there are at least `min_repeat_customers` (default 200) repeat
customers, both fits converge, parameters are finite and away from the search box, the implied
mean purchase rate is plausible (< 1 purchase day per day), q > 1 (so expected spend exists), the
implied mean spend is within a factor 10 of the observed one, and the BG/NBD fit is not degenerate
(ml.btyd_checks: somebody drops out, P(alive) has a spread).

Then the fold: the same fit made `holdout_days` (default 90) before as_of is judged on the window
after it. A fit whose churn risk there is no better than a coin (ROC AUC <= 0.5) is degenerate.
Per score, the fit is served when it beats its naive baseline there by the margin of ml.gates
(churn risk against days since the last purchase, value against historic spend); else the RFM
heuristic when it does; else the naive baseline itself, scaled on the fold into the score's units.
`clv_method_reason` and the model's `churn_reason` say why.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from ml.btyd import (
    CHURN_BASELINE_METHOD,
    METHOD_HEURISTIC,
    METHOD_MODEL,
    MIN_REPEAT_CUSTOMERS,
    VALUE_BASELINE_METHOD,
    BTYDModel,
    rfm_summary,
    score_btyd,
)
from ml.btyd_checks import (
    BaselineCalibration,
    degeneracy_problems,
    fit_baseline_calibration,
    fold_metrics,
    fold_outcomes,
)
from ml.btyd_likelihoods import (
    LOG_BOUND,
    BGNBDParams,
    FitResult,
    GammaGammaParams,
    fit_bgnbd,
    fit_gamma_gamma,
)
from ml.gates import MAX_DEGENERATE_CHURN_AUC, GateSettings, decide

log = logging.getLogger(__name__)


@dataclass
class BTYDResult:
    model: BTYDModel
    scores: pd.DataFrame
    summary: pd.DataFrame
    report: dict
    fold_model: BTYDModel | None = None  # the model as it was fit holdout_days before as_of


def _interior_problem(model: str, params: BGNBDParams | GammaGammaParams) -> str | None:
    """Why fitted parameters are no interior optimum: not finite, or at the edge of the log-space
    search box (within 0.05 of LOG_BOUND), where the optimiser stopped rather than converged."""
    values = np.array(list(asdict(params).values()))
    if not np.all(np.isfinite(values)):
        return f"{model} parameters not finite"
    if np.any(np.abs(np.log(values)) > LOG_BOUND - 0.05):
        return f"{model} parameter at the search bound: {asdict(params)}"
    return None


def _check_bgnbd(fit: FitResult) -> str | None:
    if not fit.converged:
        return f"BG/NBD did not converge ({fit.message})"
    p = fit.params
    if problem := _interior_problem("BG/NBD", p):
        return problem
    if not 1e-6 < p.r / p.alpha < 1.0:
        return f"BG/NBD implies an absurd purchase rate r/alpha={p.r / p.alpha:.3g} per day"
    return None


def _check_gamma_gamma(fit: FitResult, observed_mean: float) -> str | None:
    if fit.params is None or not fit.converged:
        return f"Gamma-Gamma did not converge ({fit.message})"
    p = fit.params
    if problem := _interior_problem("Gamma-Gamma", p):
        return problem
    if p.q <= 1:
        return f"Gamma-Gamma q={p.q:.3g} <= 1: expected spend undefined"
    implied = p.p * p.v / (p.q - 1)
    if not (observed_mean / 10 <= implied <= observed_mean * 10):
        return f"Gamma-Gamma implied mean spend {implied:.3g} far from observed {observed_mean:.3g}"
    return None


def _fit_checked(
    summary: pd.DataFrame, diagnostics: dict, *, min_repeat_customers, maxiter, fit_sample, random_state
):
    """(BG/NBD, Gamma-Gamma, '') when both fits on `summary` converge, are plausible and not
    degenerate; (None, None, why not) otherwise. Fills `diagnostics` with the fits."""
    repeat = summary[summary["frequency"] > 0]
    diagnostics.update({"n_customers": len(summary), "n_repeat_customers": len(repeat)})
    if len(repeat) < min_repeat_customers:
        return None, None, f"thin data: {len(repeat)} repeat customers < {min_repeat_customers}"
    fit_rows = summary
    if len(summary) > fit_sample:
        fit_rows = summary.sample(n=fit_sample, random_state=random_state)
    bg_fit = fit_bgnbd(fit_rows["frequency"], fit_rows["recency"], fit_rows["T"], maxiter=maxiter)
    rep = fit_rows[(fit_rows["frequency"] > 0) & (fit_rows["monetary_value"] > 0)]
    gg_fit = fit_gamma_gamma(rep["frequency"], rep["monetary_value"], maxiter=maxiter)
    diagnostics["bgnbd_fit"] = _fit_dict(bg_fit)
    diagnostics["gamma_gamma_fit"] = _fit_dict(gg_fit)
    problems = [
        m
        for m in (_check_bgnbd(bg_fit), _check_gamma_gamma(gg_fit, float(rep["monetary_value"].mean())))
        if m
    ]
    if not problems:
        degenerate = degeneracy_problems(bg_fit.params, summary)
        diagnostics["degeneracy"] = degenerate
        problems += degenerate
    if problems:
        return None, None, "; ".join(problems)
    diagnostics["spend_value_correlation"] = float(np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1])
    return bg_fit.params, gg_fit.params, ""


def _population_gap(summary: pd.DataFrame) -> float:
    repeat = summary[summary["frequency"] > 0]
    return float(np.median(repeat["recency"] / repeat["frequency"])) if len(repeat) else 90.0


def fit_btyd(
    transactions: pd.DataFrame,
    as_of,
    *,
    horizon_days: int = 365,
    monthly_discount_rate: float = 0.0,
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
    maxiter: int = 2000,
    fit_sample: int = 1_000_000,
    random_state: int = 42,
    holdout_days: int | None = 90,
    gates: GateSettings | None = None,
) -> BTYDResult:
    """Fit BG/NBD + Gamma-Gamma on transactions up to as_of, or fall back to the heuristic;
    score every customer with a purchase. Above `fit_sample` customers the likelihoods are fit
    on a seeded random sample of that size (parameters are population-level).

    With `holdout_days`, each score (churn risk, value) is served by the fit only if the same fit
    made `holdout_days` before as_of is not degenerate on the window after it and beats the naive
    baseline there by the margin of `gates` (ml.btyd_checks, ml.gates); else by the heuristic if
    it beats the baseline so; else by the baseline itself. `fold_model` is what is served, as fit
    at the fold's start, for the champion/challenger holdout."""
    gates = gates or GateSettings()
    fit_options = {
        "min_repeat_customers": min_repeat_customers,
        "maxiter": maxiter,
        "fit_sample": fit_sample,
        "random_state": random_state,
    }
    summary = rfm_summary(transactions, as_of)
    diagnostics: dict = {}
    bg, gg, reason = _fit_checked(summary, diagnostics, **fit_options)
    method = churn_method = METHOD_MODEL if bg is not None else METHOD_HEURISTIC
    churn_reason, calibration, fold = "", None, None
    if holdout_days:
        fold = _judge_on_fold(
            transactions, as_of, holdout_days, fitted=bg is not None, gates=gates, **fit_options
        )
        diagnostics["fold"] = fold.report
        diagnostics["degeneracy"] = [*diagnostics.get("degeneracy", []), *fold.degenerate]
        calibration = fold.calibration
        method, value_reason = fold.served["predicted_clv"]
        churn_method, churn_reason = fold.served["churn_risk"]
        reason = "; ".join(r for r in (reason, value_reason) if r)
        if METHOD_MODEL not in (method, churn_method):
            bg = gg = None
    elif bg is not None:
        reason = "fits converged and passed the plausibility and degeneracy checks (no fold: not gated)"
    if method != METHOD_MODEL:
        log.warning("BTYD value served by %s: %s", method, reason)
    if churn_method != METHOD_MODEL:
        log.warning("BTYD churn risk served by %s: %s", churn_method, churn_reason or reason)
    model = BTYDModel(
        method,
        reason,
        bg,
        gg,
        horizon_days,
        monthly_discount_rate,
        _population_gap(summary),
        diagnostics,
        churn_method,
        churn_reason,
        calibration,
    )
    scores = score_btyd(model, summary)
    report = {**model.to_dict(), "clv_summary": scores[f"predicted_clv_{horizon_days}d"].describe().to_dict()}
    fold_model = None
    if fold is not None:
        fold_model = replace(
            model,
            bgnbd=fold.model.bgnbd if fold.model else None,
            gamma_gamma=fold.model.gamma_gamma if fold.model else None,
            population_gap_days=fold.heuristic.population_gap_days,
        )
    return BTYDResult(model, scores, summary, report, fold_model)


@dataclass
class FoldJudgement:
    """The fit made at the fold's start and what the fold said about it and the alternatives."""

    model: BTYDModel | None  # the fitted model at the fold's start, None when it was not usable
    heuristic: BTYDModel  # the heuristic at the fold's start
    calibration: BaselineCalibration  # the naive baselines' scale, fit on the fold
    degenerate: list[str]
    model_unusable: list[str]  # why the model cannot be considered at all (unusable or degenerate)
    served: dict[str, tuple[str, str]]  # score -> (what is served, why)
    report: dict


def _judge_on_fold(
    transactions: pd.DataFrame, as_of, holdout_days: int, *, fitted: bool, gates: GateSettings, **fit_options
) -> FoldJudgement:
    """Fit at as_of - holdout_days, score churn and value over the holdout window and compare the
    model, the heuristic and the naive baselines on what happened (ml.btyd_checks). Per score, the
    first of (model, heuristic) that beats the naive baseline by the margin is served; the naive
    baseline itself when neither does."""
    start = pd.Timestamp(as_of) - pd.Timedelta(days=holdout_days)
    summary = rfm_summary(transactions, start)
    outcome = fold_outcomes(transactions, summary, start, as_of)
    clv = f"predicted_clv_{holdout_days}d"
    gap = _population_gap(summary)
    heuristic = BTYDModel(METHOD_HEURISTIC, "heuristic at the fold start", None, None, holdout_days, 0.0, gap)
    calibration = fit_baseline_calibration(summary, outcome, holdout_days)
    report: dict = {
        "start": str(start),
        "end": str(pd.Timestamp(as_of)),
        "calibration": asdict(calibration),
        METHOD_HEURISTIC: fold_metrics(score_btyd(heuristic, summary), summary, outcome, clv),
    }
    options = {METHOD_HEURISTIC: report[METHOD_HEURISTIC]}
    model, degenerate, unusable = None, [], []
    if fitted:
        fold_diagnostics: dict = {}
        bg, gg, why = _fit_checked(summary, fold_diagnostics, **fit_options)
        report["fit"] = fold_diagnostics
        if bg is None:
            degenerate = list(fold_diagnostics.get("degeneracy", []))
            unusable.append(f"the same fit made at the fold start {start.date()} was not usable: {why}")
        else:
            model = BTYDModel(METHOD_MODEL, "fit at the fold start", bg, gg, holdout_days, 0.0, gap)
            metrics = fold_metrics(score_btyd(model, summary), summary, outcome, clv)
            report[METHOD_MODEL] = metrics
            if not metrics["churn_roc_auc"] > MAX_DEGENERATE_CHURN_AUC:
                degenerate.append(
                    f"BG/NBD degenerate: churn ROC AUC {metrics['churn_roc_auc']:.3f} <= "
                    f"{MAX_DEGENERATE_CHURN_AUC} on the {holdout_days} days after {start.date()}"
                )
                unusable.extend(degenerate)
            else:
                options = {METHOD_MODEL: metrics, **options}
    served, decisions = {}, []
    for score, metric, key, margin, baseline in (
        ("churn_risk", "roc_auc", "churn_roc_auc", gates.churn_margin, CHURN_BASELINE_METHOD),
        ("predicted_clv", "spearman", "value_spearman", gates.clv_margin, VALUE_BASELINE_METHOD),
    ):
        served[score], reasons = (baseline, ""), list(unusable)
        for name, metrics in options.items():
            decision = decide(
                score,
                metric=metric,
                margin=margin,
                model=name,
                model_value=metrics[key],
                baselines=metrics["baselines"][key],
                fallback=baseline,
            )
            decisions.append(decision)
            reasons.append(decision.reason)
            if decision.passed:
                served[score] = (name, "")
                break
        served[score] = (served[score][0], "; ".join(reasons))
    report["gates"] = [d.to_dict() for d in decisions]
    report["served"] = {score: name for score, (name, _) in served.items()}
    return FoldJudgement(model, heuristic, calibration, degenerate, unusable, served, report)


def _fit_dict(fit: FitResult) -> dict:
    return {
        "params": asdict(fit.params) if fit.params else None,
        "converged": fit.converged,
        "message": fit.message,
        "neg_log_likelihood": fit.neg_log_likelihood,
        "n": fit.n,
        "iterations": fit.iterations,
    }
