"""The numbers purchase propensity is judged and reported by: classification metrics, the F1
threshold, score deciles and lift. Shared by validation, the report and daily scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
)


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float | None = None) -> dict:
    y = np.asarray(y).astype(bool)
    out = {
        "n": len(y),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "roc_auc": float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if y.any() else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[False, True])),
    }
    if threshold is not None:
        pred = p >= threshold
        out.update(
            threshold=float(threshold),
            f1=float(f1_score(y, pred, zero_division=0)),
            precision=float(precision_score(y, pred, zero_division=0)),
            recall=float(recall_score(y, pred, zero_division=0)),
        )
    return out


def max_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    prec, rec, thr = precision_recall_curve(np.asarray(y).astype(bool), p)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0)[:-1]
    return float(thr[int(np.argmax(f1))]) if len(thr) else 0.5


def deciles(scores: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """1 = top 10 %; ties broken by customer_key so the result is deterministic."""
    n = len(scores)
    order = np.lexsort((keys, -np.asarray(scores)))
    dec = np.empty(n, dtype=np.int64)
    dec[order] = np.arange(n) * 10 // max(n, 1) + 1
    return dec


def lift_table(
    y: np.ndarray, p: np.ndarray, keys: np.ndarray, groups: np.ndarray | None = None
) -> pd.DataFrame:
    """Response and lift by score decile (deciles formed within each group, e.g. cutoff)."""
    y = np.asarray(y).astype(float)
    if groups is None:
        dec = deciles(p, keys)
    else:
        dec = np.empty(len(y), dtype=np.int64)
        for g in pd.unique(groups):
            m = groups == g
            dec[m] = deciles(p[m], keys[m])
    t = (
        pd.DataFrame({"decile": dec, "y": y, "p": p})
        .groupby("decile")
        .agg(customers=("y", "size"), buyers=("y", "sum"), mean_score=("p", "mean"))
    )
    t["response_rate"] = t["buyers"] / t["customers"]
    t["lift"] = t["response_rate"] / y.mean() if y.mean() > 0 else np.nan
    t["cumulative_capture"] = t["buyers"].cumsum() / max(y.sum(), 1)
    return t.reset_index()
