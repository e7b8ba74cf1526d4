"""Validation of purchase propensity: can it be learned, does a candidate behave as a marketer
expects, and how good is the chosen model out of time.

- Two classes: labels that are all buyers or all non-buyers teach nothing.
- Monotonic recency: a customer who bought more recently, all else equal, must never score
  lower; a candidate that breaks it is not eligible (a random forest usually does).
- Threshold and holdout: the F1 threshold is tuned on the validation folds before the last one
  and reported on the last, so the reported F1 is not tuned on the data it is measured on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.propensity_metrics import classification_metrics, max_f1_threshold


def require_two_classes(y: np.ndarray) -> None:
    if y.all() or not y.any():
        raise ValueError("labels have a single class; nothing to learn")


def recency_monotonic_check(
    model,
    X: pd.DataFrame,
    *,
    feature: str = "recency_days",
    direction: int = -1,
    n_rows: int = 200,
    grid: np.ndarray | None = None,
    tol: float = 1e-9,
) -> dict:
    """Vary `feature` over a grid for sampled rows, holding everything else fixed, and check the
    predicted propensity moves only in `direction` (-1: more days since purchase, never higher).

    `model` is a fitted Pipeline (probabilities per class) or a PropensityModel (of buying).
    """
    if feature not in X.columns:
        return {"passed": True, "checked": False, "reason": f"{feature} not used"}
    base = X[X[feature].notna()]
    if base.empty:
        return {"passed": True, "checked": False, "reason": f"{feature} has no values"}
    base = base.iloc[np.linspace(0, len(base) - 1, min(n_rows, len(base))).astype(int)]
    if grid is None:
        grid = np.unique(np.quantile(base[feature].to_numpy(dtype=float), np.linspace(0, 1, 21)))
        grid = np.unique(np.r_[0.0, grid, grid.max() * 2 + 1])
    rep = base.loc[base.index.repeat(len(grid))].copy()
    rep[feature] = np.tile(grid, len(base))
    p = model.predict_proba(rep)
    p = p[:, 1] if p.ndim == 2 else p
    steps = np.diff(p.reshape(len(base), len(grid)), axis=1) * direction
    worst = float(-steps.min()) if steps.size else 0.0
    violating = float(np.mean((steps < -tol).any(axis=1)))
    return {
        "passed": bool(worst <= tol),
        "checked": True,
        "max_wrong_way_change": max(worst, 0.0),
        "share_rows_violating": violating,
    }


def monotonic_checks(model, X: pd.DataFrame, monotonic: dict[str, int]) -> dict[str, dict]:
    """recency_monotonic_check for each constrained feature and its direction."""
    return {c: recency_monotonic_check(model, X, feature=c, direction=d) for c, d in monotonic.items()}


def threshold_and_holdout_metrics(
    y: np.ndarray, p: np.ndarray, valid_rows: np.ndarray, last_valid: np.ndarray
) -> tuple[float, dict]:
    """The max-F1 threshold from the validation folds before the last (the last fold itself when
    the earlier ones are missing or one-class), and the metrics on the last fold at it."""
    earlier = np.setdiff1d(valid_rows, last_valid)
    tuned_on = earlier if len(earlier) and 0 < y[earlier].sum() < len(earlier) else last_valid
    threshold = max_f1_threshold(y[tuned_on], p[tuned_on])
    return threshold, classification_metrics(y[last_valid], p[last_valid], threshold)
