"""Naive purchase-propensity baselines as sklearn Pipelines, so a baseline is trained, validated,
persisted and served exactly like a model when the model does not beat it (ml.gates).

- `baseline_order_count`: more completed orders, more likely to buy again;
- `baseline_recency`: fewer days since the last order, more likely (never bought: least likely);
- `baseline_rfm_score`: recency, frequency and monetary quintile scores (1-5 each, learned on the
  training rows' buyers) summed, 0 for someone who never bought;
- `baseline_historic_spend`: more spent so far, more likely.

Each turns its score into a probability with a logistic curve whose slope cannot be negative, so
the served ranking is the baseline's own ranking (or flat, if the data contradicted it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

BASELINE_FEATURES: dict[str, tuple[str, ...]] = {
    "baseline_order_count": ("frequency_orders",),
    "baseline_recency": ("recency_days",),
    "baseline_rfm_score": ("recency_days", "frequency_orders", "monetary_total"),
    "baseline_historic_spend": ("monetary_total",),
}
BASELINES = tuple(BASELINE_FEATURES)


def _column(X: pd.DataFrame, name: str) -> np.ndarray:
    return pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float)


class BaselineScore(TransformerMixin, BaseEstimator):
    """One column: the naive score of `kind` (higher = more likely to buy)."""

    def __init__(self, kind: str = "baseline_order_count"):
        self.kind = kind

    def fit(self, X: pd.DataFrame, y=None):
        if self.kind not in BASELINE_FEATURES:
            raise ValueError(f"unknown baseline {self.kind!r}")
        self.edges_ = {}
        if self.kind == "baseline_rfm_score":
            bought = np.nan_to_num(_column(X, "frequency_orders")) > 0
            for col in BASELINE_FEATURES[self.kind]:
                x = _column(X, col)[bought]
                x = x[np.isfinite(x)]
                self.edges_[col] = np.quantile(x, [0.2, 0.4, 0.6, 0.8]) if len(x) else np.zeros(4)
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if self.kind == "baseline_order_count":
            score = np.log1p(np.clip(np.nan_to_num(_column(X, "frequency_orders")), 0, None))
        elif self.kind == "baseline_historic_spend":
            score = np.log1p(np.clip(np.nan_to_num(_column(X, "monetary_total")), 0, None))
        elif self.kind == "baseline_recency":
            days = _column(X, "recency_days")
            score = np.where(np.isfinite(days), -np.log1p(np.clip(days, 0, None)), -20.0)
        else:
            score = self._rfm(X)
        return score.reshape(-1, 1)

    def _rfm(self, X: pd.DataFrame) -> np.ndarray:
        recency = _column(X, "recency_days")
        r = 5 - np.searchsorted(self.edges_["recency_days"], np.nan_to_num(recency, nan=np.inf), side="left")
        orders = np.nan_to_num(_column(X, "frequency_orders"))
        f = 1 + np.searchsorted(self.edges_["frequency_orders"], orders, side="right")
        money = np.nan_to_num(_column(X, "monetary_total"))
        m = 1 + np.searchsorted(self.edges_["monetary_total"], money, side="right")
        return np.where(orders > 0, r + f + m, 0).astype(float)


class IncreasingCalibrator(ClassifierMixin, BaseEstimator):
    """P(buy) = logistic(slope x score + intercept) with slope >= 0: calibrated probabilities that
    keep the score's order. A negative fitted slope is set to 0 (every customer gets the base rate)."""

    def fit(self, X, y):
        s = np.asarray(X, dtype=float).reshape(-1, 1)
        y = np.asarray(y).astype(bool)
        self.classes_ = np.array([False, True])
        rate = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
        if np.ptp(s) > 0 and 0 < y.sum() < len(y):
            lr = LogisticRegression(C=1e4, max_iter=1000).fit(s, y)
            self.slope_, self.intercept_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        else:
            self.slope_, self.intercept_ = 0.0, float(logit(rate))
        if self.slope_ < 0:
            self.slope_, self.intercept_ = 0.0, float(logit(rate))
        return self

    def predict_proba(self, X) -> np.ndarray:
        p = expit(self.slope_ * np.asarray(X, dtype=float).reshape(-1) + self.intercept_)
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return self.predict_proba(X)[:, 1] >= 0.5


def baseline_pipeline(kind: str) -> Pipeline:
    return Pipeline([("score", BaselineScore(kind)), ("calibrate", IncreasingCalibrator())])


def available_baselines(columns) -> tuple[str, ...]:
    """The baselines whose features the model's spec has."""
    have = set(columns)
    return tuple(b for b in BASELINES if set(BASELINE_FEATURES[b]) <= have)
