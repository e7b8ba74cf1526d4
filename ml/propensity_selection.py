"""Candidate selection for purchase propensity: build each candidate, cross-validate it out of
time, and choose the best mean validation PR AUC among candidates that pass validation.

Each candidate is a Pipeline with its own preprocessing, fitted per fold on training cutoffs only,
so nothing is learned from the validation cutoff.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ml.features import FeatureSpec, build_preprocessor
from ml.propensity_metrics import classification_metrics
from ml.propensity_validation import monotonic_checks

if TYPE_CHECKING:
    from ml.propensity import PropensityConfig, TrainingData

log = logging.getLogger(__name__)


def make_candidate(name: str, spec: FeatureSpec, cfg: PropensityConfig) -> Pipeline:
    """One candidate as a Pipeline with its own preprocessing (fit per fold, never on validation)."""
    rs = cfg.random_state
    if name == "logistic_regression":
        return Pipeline(
            [
                ("prep", build_preprocessor(spec)),
                ("model", LogisticRegression(C=0.5, max_iter=2000, random_state=rs)),
            ]
        )
    if name == "random_forest":
        model = RandomForestClassifier(
            n_estimators=cfg.rf_trees,
            min_samples_leaf=25,
            max_features="sqrt",
            max_samples=0.3,
            n_jobs=cfg.n_jobs,
            random_state=rs,
        )
        return Pipeline([("prep", build_preprocessor(spec, scale=False)), ("model", model)])
    if name == "hist_gradient_boosting":
        cst = {_transformed_name(spec, c): s for c, s in cfg.monotonic.items() if c in spec.numeric}
        model = HistGradientBoostingClassifier(
            learning_rate=0.1,
            max_iter=cfg.hgb_max_iter,
            max_leaf_nodes=31,
            min_samples_leaf=100,
            l2_regularization=1.0,
            early_stopping=False,
            monotonic_cst=cst or None,
            random_state=rs,
        )
        return Pipeline(
            [("prep", build_preprocessor(spec, scale=False, pandas_output=True)), ("model", model)]
        )
    raise ValueError(f"unknown candidate {name!r}")


def _transformed_name(spec: FeatureSpec, col: str) -> str:
    return f"skewed__{col}" if col in spec.skewed else f"numeric__{col}"


def evaluate_candidates(
    data: TrainingData, spec: FeatureSpec, cfg: PropensityConfig
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, Pipeline]]:
    """Per candidate: fold metrics, means and the monotonicity checks (eligibility); its
    out-of-fold predictions; and the model fitted for the last fold (the holdout model)."""
    X, y = data.X_cv, data.y_cv
    results: dict[str, dict] = {}
    oof: dict[str, np.ndarray] = {}
    last_models: dict[str, Pipeline] = {}
    for name in cfg.candidates:
        pred = np.full(len(X), np.nan)
        folds_metrics = []
        try:
            for (tr, va), fname in zip(data.splits, data.fold_names, strict=True):
                pipe = make_candidate(name, spec, cfg).fit(X.iloc[tr], y[tr])
                pred[va] = pipe.predict_proba(X.iloc[va])[:, 1]
                folds_metrics.append(
                    {"valid_cutoff": fname, "n_train": len(tr), **classification_metrics(y[va], pred[va])}
                )
                last_models[name] = pipe
        except Exception as exc:  # a candidate that cannot fit must not sink the others
            log.warning("candidate %s failed: %s", name, exc)
            results[name] = {"error": repr(exc), "eligible": False}
            continue
        mono = monotonic_checks(last_models[name], X.iloc[data.last_valid], cfg.monotonic)
        results[name] = {
            "folds": folds_metrics,
            "mean_pr_auc": float(np.mean([m["pr_auc"] for m in folds_metrics])),
            "mean_roc_auc": float(np.mean([m["roc_auc"] for m in folds_metrics])),
            "mean_brier": float(np.mean([m["brier"] for m in folds_metrics])),
            "monotonic": mono,
            "eligible": all(m["passed"] for m in mono.values()),
        }
        oof[name] = pred
    return results, oof, last_models


def choose_candidate(results: dict[str, dict], candidates) -> str:
    """Best mean validation PR AUC among eligible candidates (earlier in `candidates` on ties);
    among all that fitted if none is eligible."""
    ok = [n for n, r in results.items() if r.get("eligible")]
    if not ok:
        ok = [n for n, r in results.items() if "error" not in r]
        log.warning("no candidate passes the monotonicity check; choosing among all")
    if not ok:
        raise RuntimeError("every propensity candidate failed to fit")
    return max(ok, key=lambda n: (results[n]["mean_pr_auc"], -list(candidates).index(n)))
