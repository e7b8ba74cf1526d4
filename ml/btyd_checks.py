"""Whether a BG/NBD + Gamma-Gamma fit may be served: degeneracy and the baseline gates on a fold.

A fit can converge, keep its parameters inside the search box and still say nothing about churn:
on the Online Retail export BG/NBD found a = 0.001, b = 355, so every customer is alive with
probability >= 0.999 and churn risk ranks by numerical noise. Three signs of that, each caught:

- the mean dropout probability per purchase a / (a + b) is below `MIN_MEAN_DROPOUT` (nobody drops);
- P(alive) over repeat customers has a 10th-90th percentile spread below `MIN_ALIVE_SPREAD`;
- on the fold (fit before `as_of - holdout_days`, judged on the holdout window) churn risk
  separates who did not come back no better than a coin: ROC AUC <= `MAX_DEGENERATE_CHURN_AUC`.

The fold is also where the fit must beat its naive baselines (ml.gates): churn risk against days
since the last purchase, predicted value against historic spend. The fold's customers are those
who bought before its start; its outcome is what they did in the holdout window. When neither
the fit nor the RFM heuristic beats a baseline, the baseline itself is served, put into the
score's units by `BaselineCalibration` (fit on the same fold, so its ranking is the baseline's).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from ml.baselines import IncreasingCalibrator
from ml.btyd_likelihoods import BGNBDParams, bgnbd_probability_alive
from ml.features import KEY
from ml.gates import MIN_ALIVE_SPREAD, MIN_MEAN_DROPOUT
from ml.times import naive_utc_times

CHURN_BASELINE = "days_since_last_purchase"
VALUE_BASELINE = "historic_spend"


def degeneracy_problems(params: BGNBDParams, summary: pd.DataFrame) -> list[str]:
    """Why a converged BG/NBD fit on `summary` (ml.btyd.rfm_summary) cannot rank churn; empty if it can."""
    problems = []
    dropout = params.a / (params.a + params.b)
    if not dropout >= MIN_MEAN_DROPOUT:
        problems.append(
            f"BG/NBD degenerate: mean dropout per purchase a/(a+b) = {dropout:.2g} < {MIN_MEAN_DROPOUT} "
            f"(a={params.a:.3g}, b={params.b:.3g}): the fit says nobody drops out"
        )
    repeat = summary[summary["frequency"] > 0]
    if len(repeat):
        alive = bgnbd_probability_alive(params, repeat["frequency"], repeat["recency"], repeat["T"])
        p10, p90 = np.nanquantile(alive, [0.1, 0.9])
        if not p90 - p10 >= MIN_ALIVE_SPREAD:
            problems.append(
                f"BG/NBD degenerate: P(alive) 10th-90th percentile spread {p90 - p10:.3g} < "
                f"{MIN_ALIVE_SPREAD} over {len(repeat)} repeat customers (all near {np.nanmedian(alive):.4g})"
            )
    return problems


def fold_outcomes(transactions: pd.DataFrame, summary_at_start: pd.DataFrame, start, end) -> pd.DataFrame:
    """Per customer of `summary_at_start`: churned (no purchase in [start, end)), the revenue and
    the purchase days there."""
    at = naive_utc_times(transactions["ordered_at"])
    inside = ((at >= pd.Timestamp(start)) & (at < pd.Timestamp(end))).to_numpy()
    window = pd.DataFrame(
        {
            KEY: transactions[KEY].astype(str).to_numpy()[inside],
            "day": at[inside].dt.floor("D").to_numpy(),
            "revenue": pd.to_numeric(transactions["revenue"], errors="coerce").fillna(0.0).to_numpy()[inside],
        }
    )
    totals = window.groupby(KEY).agg(revenue=("revenue", "sum"), purchase_days=("day", "nunique"))
    keys = summary_at_start[KEY].astype(str)
    return pd.DataFrame(
        {
            KEY: keys.to_numpy(),
            "churned": ~keys.isin(totals.index).to_numpy(),
            "revenue": keys.map(totals["revenue"]).fillna(0.0).to_numpy(dtype=float),
            "purchase_days": keys.map(totals["purchase_days"]).fillna(0).to_numpy(dtype=float),
        }
    )


@dataclass(frozen=True)
class BaselineCalibration:
    """The naive baselines turned into the scores' units, fit on the fold (what the window after
    its start showed), so a served baseline ranks exactly as the baseline the gate measured:

    - churn risk = logistic(churn_slope x log(1 + days since the last purchase) + churn_intercept),
      slope >= 0: the chance of no purchase within `window_days`;
    - predicted value = historic spend x revenue_per_spend_day x horizon days;
    - expected purchases = purchase days so far x purchases_per_purchase_day_day x horizon days.
    """

    window_days: int
    churn_slope: float
    churn_intercept: float
    revenue_per_spend_day: float
    purchases_per_purchase_day_day: float

    def churn_risk(self, silent_days: np.ndarray) -> np.ndarray:
        return expit(self.churn_slope * np.log1p(np.clip(silent_days, 0, None)) + self.churn_intercept)


def fit_baseline_calibration(
    summary: pd.DataFrame, outcome: pd.DataFrame, window_days: int
) -> BaselineCalibration:
    """The calibration of `BaselineCalibration` on the fold's customers (`summary` at its start,
    `outcome` from fold_outcomes)."""
    frame = outcome.merge(summary[[KEY, "recency", "T", "total_revenue", "n_purchase_days"]], on=KEY)
    if frame.empty:
        return BaselineCalibration(int(window_days), 0.0, 0.0, 0.0, 0.0)
    silent = np.log1p(np.clip((frame["T"] - frame["recency"]).to_numpy(dtype=float), 0, None))
    churn = IncreasingCalibrator().fit(silent, frame["churned"].to_numpy(dtype=bool))
    spend = float(frame["total_revenue"].clip(lower=0).sum())
    days = float(frame["n_purchase_days"].sum())
    return BaselineCalibration(
        window_days=int(window_days),
        churn_slope=churn.slope_,
        churn_intercept=churn.intercept_,
        revenue_per_spend_day=float(frame["revenue"].sum()) / spend / window_days if spend > 0 else 0.0,
        purchases_per_purchase_day_day=float(frame["purchase_days"].sum()) / days / window_days
        if days
        else 0.0,
    )


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    ok = np.isfinite(score)
    if ok.sum() < 2 or len(np.unique(y[ok])) < 2:
        return float("nan")
    return float(roc_auc_score(y[ok], score[ok]))


def _spearman(value: np.ndarray, score: np.ndarray) -> float:
    ok = np.isfinite(score)
    if ok.sum() < 3 or np.ptp(value[ok]) == 0 or np.ptp(score[ok]) == 0:
        return float("nan")
    return float(spearmanr(score[ok], value[ok]).statistic)


def fold_metrics(scores: pd.DataFrame, summary: pd.DataFrame, outcome: pd.DataFrame, clv_column: str) -> dict:
    """Churn ROC AUC and value Spearman of one scorer's `scores` (ml.btyd.score_btyd at the fold's
    start) on the fold's `outcome`, and of the naive baselines on the same customers."""
    frame = outcome.merge(scores[[KEY, "churn_risk", clv_column]], on=KEY, how="left").merge(
        summary[[KEY, "recency", "T", "total_revenue"]], on=KEY, how="left"
    )
    churned = frame["churned"].to_numpy(dtype=bool)
    revenue = frame["revenue"].to_numpy(dtype=float)
    silent_days = (frame["T"] - frame["recency"]).to_numpy(dtype=float)
    spend = frame["total_revenue"].to_numpy(dtype=float)
    return {
        "customers": len(frame),
        "churned": int(churned.sum()),
        "churn_roc_auc": _auc(churned, frame["churn_risk"].to_numpy(dtype=float)),
        "value_spearman": _spearman(revenue, frame[clv_column].to_numpy(dtype=float)),
        "baselines": {
            "churn_roc_auc": {CHURN_BASELINE: _auc(churned, silent_days)},
            "value_spearman": {VALUE_BASELINE: _spearman(revenue, spend)},
        },
    }
