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
expected spend exists) and the implied mean spend is within a factor 10 of the observed one.
Otherwise every customer gets the documented RFM heuristic (`rfm_heuristic`), and
`clv_method_reason` says why. Customers without any purchase before as_of are not modelled
(clv_method 'no_purchase_history', values NULL).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

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

log = logging.getLogger(__name__)

TIME_UNIT = "days"
MIN_REPEAT_CUSTOMERS = 200
METHOD_MODEL = "bgnbd_gamma_gamma"
METHOD_HEURISTIC = "rfm_heuristic"
METHOD_NONE = "no_purchase_history"


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

    def to_dict(self) -> dict:
        return {
            "method": self.method,
            "reason": self.reason,
            "bgnbd": asdict(self.bgnbd) if self.bgnbd else None,
            "gamma_gamma": asdict(self.gamma_gamma) if self.gamma_gamma else None,
            "horizon_days": self.horizon_days,
            "monthly_discount_rate": self.monthly_discount_rate,
            "population_gap_days": self.population_gap_days,
            "time_unit": TIME_UNIT,
            "diagnostics": self.diagnostics,
        }


@dataclass
class BTYDResult:
    model: BTYDModel
    scores: pd.DataFrame
    summary: pd.DataFrame
    report: dict


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
) -> BTYDResult:
    """Fit BG/NBD + Gamma-Gamma on transactions up to as_of, or fall back to the heuristic;
    score every customer with a purchase. Above `fit_sample` customers the likelihoods are fit
    on a seeded random sample of that size (parameters are population-level)."""
    summary = rfm_summary(transactions, as_of)
    repeat = summary[summary["frequency"] > 0]
    gap_pop = float(np.median(repeat["recency"] / repeat["frequency"])) if len(repeat) else 90.0
    diagnostics: dict = {"n_customers": len(summary), "n_repeat_customers": len(repeat)}
    reason = ""
    bg = gg = None
    if len(repeat) < min_repeat_customers:
        reason = f"thin data: {len(repeat)} repeat customers < {min_repeat_customers}"
    else:
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
        if problems:
            reason = "; ".join(problems)
        else:
            bg, gg = bg_fit.params, gg_fit.params
            diagnostics["spend_value_correlation"] = float(
                np.corrcoef(rep["frequency"], rep["monetary_value"])[0, 1]
            )
    method = METHOD_MODEL if bg is not None else METHOD_HEURISTIC
    if method == METHOD_HEURISTIC:
        log.warning("BTYD falls back to the RFM heuristic: %s", reason)
    else:
        reason = "fits converged and passed the plausibility checks"
    model = BTYDModel(method, reason, bg, gg, horizon_days, monthly_discount_rate, gap_pop, diagnostics)
    scores = score_btyd(model, summary)
    report = {**model.to_dict(), "clv_summary": scores[f"predicted_clv_{horizon_days}d"].describe().to_dict()}
    return BTYDResult(model, scores, summary, report)


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
    predicted_clv_<h>d, clv_method, clv_method_reason. `summary` comes from rfm_summary;
    `customers` (optional) adds customers without purchases as 'no_purchase_history'."""
    h = model.horizon_days
    x = summary["frequency"].to_numpy(dtype=float)
    tx = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    m = summary["monetary_value"].to_numpy(dtype=float)
    edges = _month_edges(h)
    disc = (1 + model.monthly_discount_rate) ** -np.arange(1, len(edges))
    method = np.full(len(x), model.method, dtype=object)
    reason = np.full(len(x), model.reason, dtype=object)
    if model.method == METHOD_MODEL:
        alive = bgnbd_probability_alive(model.bgnbd, x, tx, T)
        if model.monthly_discount_rate > 0:
            cum = np.vstack([bgnbd_expected_purchases(model.bgnbd, t, x, tx, T) for t in edges[1:]])
            per_month = np.diff(np.vstack([np.zeros(len(x)), cum]), axis=0)
            expected = cum[-1]
            discounted = (per_month * disc[:, None]).sum(axis=0)
        else:
            expected = bgnbd_expected_purchases(model.bgnbd, h, x, tx, T)
            discounted = expected.copy()
        spend = gamma_gamma_expected_spend(model.gamma_gamma, x, m)
        bad = ~(np.isfinite(expected) & np.isfinite(alive) & np.isfinite(spend) & (expected >= 0))
        if bad.any():
            log.warning("%d customers have non-finite BTYD values; heuristic used for them", bad.sum())
            ha, he, hd, hs = _heuristic(model, summary.loc[bad], edges, disc)
            alive[bad], expected[bad], discounted[bad], spend[bad] = ha, he, hd, hs
            method[bad] = METHOD_HEURISTIC
            reason[bad] = "non-finite model value for this customer"
    else:
        alive, expected, discounted, spend = _heuristic(model, summary, edges, disc)
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
        }
    )
    if customers is not None:
        missing = pd.Index(pd.unique(customers.astype(str))).difference(out[KEY].astype(str))
        if len(missing):
            extra = pd.DataFrame({KEY: pd.array(missing, dtype="str")})
            extra["clv_method"] = METHOD_NONE
            extra["clv_method_reason"] = "no purchase before as_of"
            out = pd.concat([out, extra], ignore_index=True)
    return out.sort_values(KEY, kind="mergesort").reset_index(drop=True)


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
