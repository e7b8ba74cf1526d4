"""What a propensity training run reports: ROC and calibration curves of every candidate, lift by
decile and permutation importance of the chosen one, the JSON report and the plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.pipeline import Pipeline

from ml.features import CUTOFF, KEY, FeatureSpec
from ml.gates import GateDecision
from ml.plots import calibration_png, roc_png
from ml.propensity_metrics import lift_table

if TYPE_CHECKING:
    from ml.propensity import PropensityConfig, TrainingData


def validation_curves(
    oof: dict[str, np.ndarray], y: np.ndarray, rows: np.ndarray
) -> tuple[dict[str, tuple], dict[str, tuple]]:
    """Per candidate, on its out-of-fold predictions: (fpr, tpr, ROC AUC) and (mean predicted,
    observed rate) over ten quantile bins."""
    curves_roc, curves_cal = {}, {}
    for name, p in oof.items():
        fpr, tpr, _ = roc_curve(y[rows], p[rows])
        curves_roc[name] = (fpr, tpr, float(roc_auc_score(y[rows], p[rows])))
        observed, predicted = calibration_curve(y[rows], p[rows], n_bins=10, strategy="quantile")
        curves_cal[name] = (predicted, observed)
    return curves_roc, curves_cal


def importance_table(
    model: Pipeline, data: TrainingData, spec: FeatureSpec, cfg: PropensityConfig
) -> pd.DataFrame:
    """Permutation importance (PR AUC drop) of the last fold's model on a spread of at most
    `importance_rows` rows of the last validation cutoff."""
    last = data.last_valid
    rows = last[:: max(1, len(last) // cfg.importance_rows)][: cfg.importance_rows]
    imp = permutation_importance(
        model,
        data.X_cv.iloc[rows],
        data.y_cv[rows],
        scoring="average_precision",
        n_repeats=cfg.importance_repeats,
        random_state=cfg.random_state,
        n_jobs=1,
    )
    return (
        pd.DataFrame(
            {
                "feature": list(spec.columns),
                "importance_mean": imp.importances_mean,
                "importance_std": imp.importances_std,
            }
        )
        .sort_values(["importance_mean", "feature"], ascending=[False, True])
        .reset_index(drop=True)
    )


def propensity_report(
    *,
    chosen: str,
    model_choice: str,
    gate: GateDecision,
    selection: list[int],
    data: TrainingData,
    results: dict[str, dict],
    oof: dict[str, np.ndarray],
    threshold: float,
    holdout_metrics: dict,
    curves_cal: dict[str, tuple],
    importance: pd.DataFrame,
    window: dict,
    spec: FeatureSpec,
    cfg: PropensityConfig,
) -> dict:
    """The JSON-able report stored with the model and shown in the UI. `chosen` is what is served
    (the model, or a baseline when the model did not pass the gate)."""
    rows = data.valid_rows
    cv = data.cv
    lift = lift_table(
        data.y_cv[rows], oof[chosen][rows], cv[KEY].to_numpy()[rows], cv[CUTOFF].to_numpy()[rows]
    )
    return {
        "chosen": chosen,
        "served_kind": "model" if chosen == model_choice else "baseline",
        "model_choice": model_choice,
        "gate": gate.to_dict(),
        "selection": (
            "max mean PR AUC on the selection folds among candidates passing the recency monotonicity "
            "check; the model is served only if it beats every baseline on the latest fold by the margin"
        ),
        "selection_folds": [data.fold_names[i] for i in selection],
        "report_fold": data.fold_names[-1],
        "selection_saw_report_fold": len(data.fold_names) - 1 in selection,
        "cv_scheme": data.scheme,
        "folds": data.fold_names,
        "candidates": results,
        "threshold": threshold,
        "threshold_rule": "max F1 on validation folds before the last; metrics below are on the last fold",
        "holdout_metrics": holdout_metrics,
        "calibration": {
            n: {"mean_predicted": c[0].tolist(), "observed_rate": c[1].tolist()}
            for n, c in curves_cal.items()
        },
        "lift_by_decile": lift.to_dict(orient="records"),
        "permutation_importance": importance.to_dict(orient="records"),
        "n_train_final": len(data.frame),
        "n_cv_rows": len(cv),
        "sample_rate_final": data.rate,
        "sample_rate_cv": data.cv_rate,
        "training_window": window,
        "features": spec.to_dict(),
        "random_state": cfg.random_state,
    }


def propensity_plots(curves_roc: dict[str, tuple], curves_cal: dict[str, tuple]) -> dict[str, bytes]:
    return {"roc.png": roc_png(curves_roc), "calibration.png": calibration_png(curves_cal)}
