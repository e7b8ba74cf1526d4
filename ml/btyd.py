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
mathematics is in ml.btyd_likelihoods.

CLV over `horizon_days` (default 365) = expected purchase days x expected spend per purchase day,
undiscounted by default; with `monthly_discount_rate` d > 0 the horizon is cut into months and
month m's expected purchases are divided by (1 + d)^m.

What is served: ml.btyd_fit fits and judges the models; this module holds the model object and
scores it. Per score, `clv_method` (value and expected purchases) and `churn_method` (churn risk
and probability alive) say what produced it: the fit (`bgnbd_gamma_gamma`), the RFM heuristic
(`rfm_heuristic`) or the naive baseline (`baseline_historic_spend`,
`baseline_days_since_last_purchase`). Customers without any purchase before as_of are not
modelled (clv_method 'no_purchase_history', values NULL).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import pandas as pd

from ml.btyd_checks import CHURN_BASELINE, VALUE_BASELINE, BaselineCalibration
from ml.btyd_likelihoods import (
    BGNBDParams,
    GammaGammaParams,
    bgnbd_expected_purchases,
    bgnbd_probability_alive,
    gamma_gamma_expected_spend,
)
from ml.features import KEY
from ml.times import naive_utc, naive_utc_times

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


# --- RFM summary -------------------------------------------------------------------------------


def rfm_summary(transactions: pd.DataFrame, as_of) -> pd.DataFrame:
    """One row per customer with a purchase before as_of: frequency, recency, T, monetary_value
    (see the module docstring), plus n_purchase_days and total_revenue."""
    as_of = pd.Timestamp(as_of)
    at = pd.to_datetime(transactions["ordered_at"])
    if getattr(at.dt, "tz", None) is not None:
        at, as_of = naive_utc_times(at), naive_utc(as_of)
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
    first_rev = r[np.r_[True, c[1:] != c[:-1]]] if len(c) else r  # no purchase at all: empty
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


def _month_edges(horizon_days: int) -> np.ndarray:
    months = max(1, round(horizon_days / (365.25 / 12)))
    return np.linspace(0, horizon_days, months + 1)


def score_btyd(model: BTYDModel, summary: pd.DataFrame, customers: pd.Series | None = None) -> pd.DataFrame:
    """Per customer: probability_alive, churn_risk, expected_purchases_<h>d, expected_spend,
    predicted_clv_<h>d, clv_method (what the value and expected purchases come from),
    clv_method_reason, churn_method (what probability_alive and churn_risk come from): the model,
    the heuristic, or the naive baseline, per the gates of ml.btyd_fit. `summary` comes from
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
