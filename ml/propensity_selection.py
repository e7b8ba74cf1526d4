"""Candidate selection for purchase propensity: build each candidate and each naive baseline,
cross-validate them out of time, choose on the earlier folds and gate on the latest.

Each candidate is a Pipeline with its own preprocessing, fitted per fold on training cutoffs only,
so nothing is learned from the validation cutoff. Selection never looks at the latest fold: the
best model and the best baseline are those with the best mean PR AUC on the folds before it, and
the latest fold is where the served one's metrics are reported and where the model must beat
every baseline by the margin of ml.gates to be served.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from ml.baselines import BASELINES, baseline_pipeline
from ml.features import FeatureSpec, build_preprocessor
from ml.gates import GateDecision, decide
from ml.propensity_metrics import classification_metrics
from ml.propensity_validation import monotonic_checks

if TYPE_CHECKING:
    from ml.propensity import PropensityConfig, TrainingData

log = logging.getLogger(__name__)


def make_candidate(name: str, spec: FeatureSpec, cfg: PropensityConfig) -> Pipeline:
    """One candidate as a Pipeline with its own preprocessing (fit per fold, never on validation)."""
    rs = cfg.random_state
    if name in BASELINES:
        return baseline_pipeline(name)
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
    data: TrainingData, spec: FeatureSpec, cfg: PropensityConfig, names
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, Pipeline]]:
    """Per candidate (models and baselines alike): fold metrics, means and the monotonicity checks
    (eligibility); its out-of-fold predictions; and the model fitted for the last fold."""
    X, y = data.X_cv, data.y_cv
    results: dict[str, dict] = {}
    oof: dict[str, np.ndarray] = {}
    last_models: dict[str, Pipeline] = {}
    for name in names:
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


def selection_folds(n_folds: int) -> list[int]:
    """Indices of the folds selection may look at: every fold before the latest; the latest
    itself only when it is the only one (the report then says selection saw it)."""
    return list(range(n_folds - 1)) if n_folds >= 2 else [0]


def selection_score(result: dict, folds: list[int], metric: str = "pr_auc") -> float:
    values = [result["folds"][i][metric] for i in folds]
    return float(np.mean(values)) if values else float("nan")


def choose_candidate(results: dict[str, dict], candidates, folds: list[int]) -> str:
    """Best mean PR AUC on the selection folds among eligible `candidates` (earlier in the list on
    ties); among all that fitted if none is eligible."""
    candidates = [n for n in candidates if n in results]
    ok = [n for n in candidates if results[n].get("eligible")]
    if not ok:
        ok = [n for n in candidates if "error" not in results[n]]
        if ok:
            log.warning("no candidate passes the monotonicity check; choosing among all")
    if not ok:
        raise RuntimeError("every propensity candidate failed to fit")
    return max(
        ok, key=lambda n: (np.nan_to_num(selection_score(results[n], folds), nan=-1), -candidates.index(n))
    )


def gate_on_latest_fold(
    results: dict[str, dict], model: str, baselines, metric: str, margin: float
) -> tuple[GateDecision, str | None]:
    """(the gate, the baseline that would be served): the model is served only when its `metric`
    on the latest fold beats every baseline's by `margin`; otherwise the baseline chosen on the
    earlier folds is served."""
    fitted = [b for b in baselines if b in results and "error" not in results[b]]
    folds = selection_folds(len(results[model]["folds"]))
    fallback = choose_candidate(results, fitted, folds) if fitted else None
    decision = decide(
        "purchase_propensity",
        metric=metric,
        margin=margin,
        model=model,
        model_value=results[model]["folds"][-1][metric],
        baselines={b: results[b]["folds"][-1][metric] for b in fitted},
        fallback=fallback or model,
    )
    return decision, fallback
