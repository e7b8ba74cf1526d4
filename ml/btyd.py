"""Churn and customer lifetime value with buy-till-you-die models: BG/NBD + Gamma-Gamma.

Definitions (the classic ones, in DAYS):
- a purchase is a purchase DAY: all transactions of a customer on one UTC calendar day count
  once, with their revenue summed (so two orders on one day are one purchase);
- frequency = number of repeat purchase days (purchase days - 1);
- recency = days between the first and the last purchase day (0 if frequency = 0);
- T = days between the first purchase day and as_of;
- monetary_value = mean revenue of the repeat purchase days (the first is excluded, as in
  Fader, Hardie & Lee 2005), 0 when frequency = 0.
Only transactions strictly before as_of count (the marts' convention for features).

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") and Gamma-Gamma
(Fader, Hardie & Lee 2005, "RFM and CLV") are fit by maximum likelihood over log-parameters with
L-BFGS-B (Nelder-Mead retry), with log-space likelihoods (gammaln, betaln, logsumexp); the
mathematics is in ml.btyd_likelihoods, this module decides whether to trust the fits and scores.

CLV over `horizon_days` (default 365) = expected purchase days x expected spend per purchase day,
undiscounted by default; with `monthly_discount_rate` d > 0 the horizon is cut into months and
month m's expected purchases are divided by (1 + d)^m.

Fallback: the fitted models are used only when there are at least `min_repeat_customers`
(default 200) repeat customers, both fits converge, parameters are finite and away from the
search box, the implied mean purchase rate is plausible (< 1 purchase day per day), q > 1 (so
expected spend exists), the implied mean spend is within a factor 10 of the observed one, the
BG/NBD fit is not degenerate (ml.btyd_checks: somebody drops out, P(alive) has a spread), and,
on the fold (the same fit made `holdout_days` before as_of, judged on the window after it), churn
risk beats days since the last purchase and predicted value beats historic spend by the margins
of ml.gates. Otherwise every customer gets the documented RFM heuristic (`rfm_heuristic`, the
BTYD's baseline), and `clv_method_reason` says why. When only churn risk loses its gate, the
value stays the model's and churn risk (with probability_alive) comes from the heuristic:
`churn_method` says which. Customers without any purchase before as_of are not modelled
(clv_method 'no_purchase_history', values NULL).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from ml.btyd_checks import (
    CHURN_BASELINE,
    VALUE_BASELINE,
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
    bgnbd_expected_purchases,
    bgnbd_probability_alive,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
)
from ml.features import KEY
from ml.gates import MAX_DEGENERATE_CHURN_AUC, GateSettings, decide

log = logging.getLogger(__name__)

TIME_UNIT = "days"
MIN_REPEAT_CUSTOMERS = 200
METHOD_MODEL = "bgnbd_gamma_gamma"
METHOD_HEURISTIC = "rfm_heuristic"
METHOD_NONE = "no_purchase_history"
CHURN_BASELINE_METHOD = f"baseline_{CHURN_BASELINE}"
VALUE_BASELINE_METHOD = f"baseline_{VALUE_BASELINE}"


@dataclass
class BTYDModel:
    """Fitted (or fallen-back) BTYD model; persisted whole by the lifecycle module."""

    method: str
    reason: str
    bgnbd: BGNBDParams | None
    gamma_gamma: GammaGammaParams | None
    horizon_days: int
    monthly_discount_rate: float
    population_gap_days: float
    diagnostics: dict = field(default_factory=dict)
    churn_method: str | None = None  # what churn risk comes from; None: the same as `method`
    churn_reason: str = ""
    baseline: BaselineCalibration | None = None  # the naive baselines' scale, fit on the fold

    @property
    def served_churn_method(self) -> str:
        """A model saved before churn had its own gate has no churn_method: it is `method`."""
        return getattr(self, "churn_method", None) or self.method

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "reason": self.reason,
            "churn_method": self.served_churn_method,
            "churn_reason": getattr(self, "churn_reason", "") or self.reason,
            "bgnbd": asdict(self.bgnbd) if self.bgnbd else None,
            "gamma_gamma": asdict(self.gamma_gamma) if self.gamma_gamma else None,
            "horizon_days": self.horizon_days,
            "monthly_discount_rate": self.monthly_discount_rate,
            "population_gap_days": self.population_gap_days,
            "baseline": asdict(self.baseline) if getattr(self, "baseline", None) else None,
            "time_unit": TIME_UNIT,
            "diagnostics": self.diagnostics,
        }


@dataclass
class BTYDResult:
    model: BTYDModel
    scores: pd.DataFrame
    summary: pd.DataFrame
    report: dict
    fold_model: BTYDModel | None = None  # the model as it was fit holdout_days before as_of


# --- RFM summary -------------------------------------------------------------------------------


def rfm_summary(transactions: pd.DataFrame, as_of) -> pd.DataFrame:
    """One row per customer with a purchase before as_of: frequency, recency, T, monetary_value
    (see the module docstring), plus n_purchase_days and total_revenue."""
    as_of = pd.Timestamp(as_of)
    at = pd.to_datetime(transactions["ordered_at"])
    if getattr(at.dt, "tz", None) is not None:
        at = at.dt.tz_convert("UTC").dt.tz_localize(None)
        as_of = as_of.tz_convert("UTC").tz_localize(None) if as_of.tzinfo else as_of
    keep = (at < as_of).to_numpy()
    codes, uniques = pd.factorize(transactions[KEY].astype(str).to_numpy()[keep], sort=True)
    day = ((at[keep].dt.floor("D") - pd.Timestamp("1970-01-01")) // pd.Timedelta(days=1)).to_numpy(np.int64)
    rev = pd.to_numeric(transactions["revenue"], errors="coerce").fillna(0.0).to_numpy(dtype=float)[keep]
    days = (
        pd.DataFrame({"c": codes, "d": day, "r": rev}).groupby(["c", "d"], sort=True)["r"].sum().reset_index()
    )
    c = days["c"].to_numpy()
    d = days["d"].to_numpy()
    r = days["r"].to_numpy()
    n_cust = len(uniques)
    n_days = np.bincount(c, minlength=n_cust)
    first = np.full(n_cust, np.iinfo(np.int64).max)
    np.minimum.at(first, c, d)
    last = np.full(n_cust, np.iinfo(np.int64).min)
    np.maximum.at(last, c, d)
    total = np.bincount(c, weights=r, minlength=n_cust)
    first_rev = r[np.r_[True, c[1:] != c[:-1]]]
    as_of_days = (as_of - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    freq = n_days - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(freq > 0, (total - first_rev) / np.maximum(freq, 1), 0.0)
    return pd.DataFrame(
        {
            KEY: pd.array(uniques, dtype="str"),
            "frequency": freq.astype(np.int64),
            "recency": (last - first).astype(float),
            "T": as_of_days - first.astype(float),
            "monetary_value": monetary,
            "n_purchase_days": n_days.astype(np.int64),
            "total_revenue": total,
        }
    )


# --- model, checks and fallback ----------------------------------------------------------------


def _check_bgnbd(fit: FitResult) -> str | None:
    if not fit.converged:
        return f"BG/NBD did not converge ({fit.message})"
    p = fit.params
    vals = np.array([p.r, p.alpha, p.a, p.b])
    if not np.all(np.isfinite(vals)):
        return "BG/NBD parameters not finite"
    if np.any(np.abs(np.log(vals)) > LOG_BOUND - 0.05):
        return f"BG/NBD parameter at the search bound: {asdict(p)}"
    if not 1e-6 < p.r / p.alpha < 1.0:
        return f"BG/NBD implies an absurd purchase rate r/alpha={p.r / p.alpha:.3g} per day"
    return None


def _check_gamma_gamma(fit: FitResult, observed_mean: float) -> str | None:
    if fit.params is None or not fit.converged:
        return f"Gamma-Gamma did not converge ({fit.message})"
    p = fit.params
    vals = np.array([p.p, p.q, p.v])
    if not np.all(np.isfinite(vals)):
        return "Gamma-Gamma parameters not finite"
    if np.any(np.abs(np.log(vals)) > LOG_BOUND - 0.05):
        return f"Gamma-Gamma parameter at the search bound: {asdict(p)}"
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


def _month_edges(horizon_days: int) -> np.ndarray:
    months = max(1, round(horizon_days / (365.25 / 12)))
    return np.linspace(0, horizon_days, months + 1)


def score_btyd(model: BTYDModel, summary: pd.DataFrame, customers: pd.Series | None = None) -> pd.DataFrame:
    """Per customer: probability_alive, churn_risk, expected_purchases_<h>d, expected_spend,
    predicted_clv_<h>d, clv_method (what the value and expected purchases come from),
    clv_method_reason, churn_method (what probability_alive and churn_risk come from): the model,
    the heuristic, or the naive baseline, per the gates of fit_btyd. `summary` comes from
    rfm_summary; `customers` (optional) adds customers without purchases as 'no_purchase_history'."""
    h = model.horizon_days
    tx = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    m = summary["monetary_value"].to_numpy(dtype=float)
    edges = _month_edges(h)
    disc = (1 + model.monthly_discount_rate) ** -np.arange(1, len(edges))
    method = np.full(len(tx), model.method, dtype=object)
    reason = np.full(len(tx), model.reason, dtype=object)
    churn_method = np.full(len(tx), model.served_churn_method, dtype=object)
    components: dict[str, tuple] = {}

    def parts(kind: str) -> tuple:
        if kind not in components:
            if kind == METHOD_MODEL:
                components[kind] = _model_parts(model, summary, edges, disc)
            elif kind in (CHURN_BASELINE_METHOD, VALUE_BASELINE_METHOD):
                components[kind] = _baseline_parts(model, summary, disc)
            else:
                components[kind] = _heuristic(model, summary, edges, disc)
        return components[kind]

    _, expected, discounted, spend = (a.copy() for a in parts(model.method))
    alive = parts(model.served_churn_method)[0].copy()
    if METHOD_MODEL in components:
        bad = ~np.all([np.isfinite(a) for a in components[METHOD_MODEL]], axis=0) | ~(
            components[METHOD_MODEL][1] >= 0
        )
        if bad.any():
            log.warning("%d customers have non-finite BTYD values; heuristic used for them", bad.sum())
            ha, he, hd, hs = (a[bad] for a in parts(METHOD_HEURISTIC))
            if model.method == METHOD_MODEL:
                expected[bad], discounted[bad], spend[bad] = he, hd, hs
                method[bad] = METHOD_HEURISTIC
                reason[bad] = "non-finite model value for this customer"
            if model.served_churn_method == METHOD_MODEL:
                alive[bad] = ha
                churn_method[bad] = METHOD_HEURISTIC
    out = pd.DataFrame(
        {
            KEY: summary[KEY].to_numpy(),
            "frequency": summary["frequency"].to_numpy(),
            "recency": tx,
            "T": T,
            "monetary_value": m,
            "probability_alive": alive,
            "churn_risk": 1.0 - alive,
            f"expected_purchases_{h}d": expected,
            "expected_spend": spend,
            f"predicted_clv_{h}d": discounted * spend,
            "clv_method": pd.array(method, dtype="str"),
            "clv_method_reason": pd.array(reason, dtype="str"),
            "churn_method": pd.array(churn_method, dtype="str"),
        }
    )
    if customers is not None:
        missing = pd.Index(pd.unique(customers.astype(str))).difference(out[KEY].astype(str))
        if len(missing):
            extra = pd.DataFrame({KEY: pd.array(missing, dtype="str")})
            extra["clv_method"] = extra["churn_method"] = METHOD_NONE
            extra["clv_method_reason"] = "no purchase before as_of"
            out = pd.concat([out, extra], ignore_index=True)
    return out.sort_values(KEY, kind="mergesort").reset_index(drop=True)


def _model_parts(model: BTYDModel, summary: pd.DataFrame, edges: np.ndarray, disc: np.ndarray):
    """BG/NBD probability alive and expected purchases (discounted per month when asked),
    Gamma-Gamma expected spend."""
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    alive = bgnbd_probability_alive(model.bgnbd, x, tx, T)
    if model.monthly_discount_rate > 0:
        cum = np.vstack([bgnbd_expected_purchases(model.bgnbd, t, x, tx, T) for t in edges[1:]])
        per_month = np.diff(np.vstack([np.zeros(len(x)), cum]), axis=0)
        expected = cum[-1]
        discounted = (per_month * disc[:, None]).sum(axis=0)
    else:
        expected = bgnbd_expected_purchases(model.bgnbd, model.horizon_days, x, tx, T)
        discounted = expected.copy()
    spend = gamma_gamma_expected_spend(model.gamma_gamma, x, summary["monetary_value"].to_numpy(dtype=float))
    return alive, expected, discounted, spend


def _baseline_parts(model: BTYDModel, summary: pd.DataFrame, disc: np.ndarray):
    """The naive baselines in the scores' units (ml.btyd_checks.BaselineCalibration): probability
    alive from days since the last purchase; expected purchases and value proportional to purchase
    days and spend so far, so the ranking is the baseline's own."""
    cal = model.baseline
    if cal is None:
        raise ValueError("a BTYD model that serves a naive baseline needs its calibration")
    alive = 1.0 - cal.churn_risk((summary["T"] - summary["recency"]).to_numpy(dtype=float))
    days = summary["n_purchase_days"].to_numpy(dtype=float)
    expected = days * cal.purchases_per_purchase_day_day * model.horizon_days
    value = np.clip(summary["total_revenue"].to_numpy(dtype=float), 0, None)
    value = value * cal.revenue_per_spend_day * model.horizon_days * float(disc.mean())
    discounted = expected * float(disc.mean())
    spend = np.divide(value, discounted, out=np.zeros_like(value), where=discounted > 0)
    return alive, expected, discounted, spend


def _heuristic(model: BTYDModel, summary: pd.DataFrame, edges: np.ndarray, disc: np.ndarray):
    """RFM heuristic. gap = (recency + g) / (frequency + 1), the customer's mean days between
    purchase days shrunk by one pseudo-gap g (the population median gap); probability_alive =
    exp(-(T - recency) / gap), the chance that a customer still buying at that pace would have
    been silent this long; expected purchases = probability_alive x horizon / gap; spend = mean
    revenue per purchase day over all purchase days."""
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    g = max(model.population_gap_days, 1.0)
    gap = (tx + g) / (x + 1)
    alive = np.exp(-np.maximum(T - tx, 0) / gap)
    expected = alive * model.horizon_days / gap
    discounted = expected * float(disc.mean())
    spend = np.maximum(
        summary["total_revenue"].to_numpy(dtype=float) / np.maximum(summary["n_purchase_days"].to_numpy(), 1),
        0.0,
    )
    return alive, expected, discounted, spend


def holdout_purchase_mae(
    model: BTYDModel, transactions: pd.DataFrame, as_of, *, holdout_days: int = 90
) -> float:
    """Champion/challenger metric (lower is better): mean absolute error of expected purchase
    days in the last `holdout_days` before as_of, predicted from the history before them.
    The challenger must have been fit on transactions up to as_of - holdout_days."""
    cal_end = pd.Timestamp(as_of) - pd.Timedelta(days=holdout_days)
    summary = rfm_summary(transactions, cal_end)
    short = replace(model, horizon_days=holdout_days, monthly_discount_rate=0.0)
    expected = score_btyd(short, summary)
    after = rfm_summary(transactions, as_of)[[KEY, "n_purchase_days"]]
    merged = (
        expected[[KEY, f"expected_purchases_{holdout_days}d"]]
        .merge(summary[[KEY, "n_purchase_days"]], on=KEY)
        .merge(after, on=KEY, suffixes=("_before", "_after"))
    )
    actual = merged["n_purchase_days_after"] - merged["n_purchase_days_before"]
    return float(np.mean(np.abs(merged[f"expected_purchases_{holdout_days}d"] - actual)))
