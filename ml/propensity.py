"""Purchase propensity: will the customer buy in the 30 days after the cutoff?

Training is point-in-time: features at each labelled cutoff, label from the window after it
(see ml.point_in_time). Candidates (logistic regression, random forest, histogram gradient
boosting) are compared with expanding-window cross-validation over cutoffs: each fold validates
on one cutoff and trains only on cutoffs whose label windows ended by then. Selection: the best
mean validation PR AUC (the metric that matters when 10-30 % of customers buy and marketing
targets the top of the ranking) among candidates that pass the recency monotonicity check:
a customer who bought more recently, all else equal, must never score lower. Gradient boosting
enforces this with a monotonic constraint; the other candidates are checked on a grid and are
not eligible if they break it (a random forest usually does). The winner is refit on all
labelled cutoffs and scores the latest cutoff.

Threshold: maximizes F1 on the validation folds before the last one, and is then reported on the
last fold, so the reported F1 is not tuned on the data it is measured on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.pipeline import Pipeline

from ml.features import (
    CATEGORICAL_FEATURES,
    CUTOFF,
    KEY,
    NUMERIC_FEATURES,
    FeatureSpec,
    align_columns,
    build_preprocessor,
    latest_cutoff,
    resolve_features,
    stable_unit_hash,
)
from ml.plots import calibration_png, roc_png
from ml.point_in_time import LABEL, build_training_set, cutoff_folds, iter_fold_indices

log = logging.getLogger(__name__)

CANDIDATES = ("logistic_regression", "random_forest", "hist_gradient_boosting")


@dataclass
class PropensityConfig:
    horizon_days: int = 30
    n_folds: int = 3
    candidates: Sequence[str] = CANDIDATES
    cv_rows_per_cutoff: int = 40_000
    max_train_rows: int = 600_000
    monotonic: dict[str, int] = field(default_factory=lambda: {"recency_days": -1})
    rf_trees: int = 100
    hgb_max_iter: int = 150
    importance_rows: int = 3_000
    importance_repeats: int = 3
    random_state: int = 42
    n_jobs: int = 2


@dataclass
class PropensityModel:
    """The persisted model: the fitted Pipeline plus what is needed to use it correctly."""

    pipeline: Pipeline
    spec: FeatureSpec
    algorithm: str
    threshold: float
    horizon_days: int

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return self.pipeline.predict_proba(align_columns(features, self.spec))[:, 1]


@dataclass
class PropensityResult:
    model: PropensityModel
    scores: pd.DataFrame
    report: dict
    plots: dict[str, bytes]
    holdout_model: PropensityModel
    holdout: pd.DataFrame
    training_frame: pd.DataFrame
    training_window: dict


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


def recency_monotonic_check(
    model: Pipeline | PropensityModel,
    X: pd.DataFrame,
    *,
    feature: str = "recency_days",
    direction: int = -1,
    n_rows: int = 200,
    grid: np.ndarray | None = None,
    tol: float = 1e-9,
) -> dict:
    """Vary `feature` over a grid for sampled rows, holding everything else fixed, and check the
    predicted propensity moves only in `direction` (-1: more days since purchase, never higher)."""
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
    p = model.predict_proba(rep) if isinstance(model, PropensityModel) else model.predict_proba(rep)[:, 1]
    steps = np.diff(p.reshape(len(base), len(grid)), axis=1) * direction
    worst = float(-steps.min()) if steps.size else 0.0
    violating = float(np.mean((steps < -tol).any(axis=1)))
    return {
        "passed": bool(worst <= tol),
        "checked": True,
        "max_wrong_way_change": max(worst, 0.0),
        "share_rows_violating": violating,
    }


def train_propensity(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    as_of,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    skewed: Sequence[str] | None = None,
    transactions: pd.DataFrame | None = None,
    config: PropensityConfig | None = None,
) -> PropensityResult:
    """Compare candidates out of time, refit the best on all labelled cutoffs, score the latest
    cutoff. `features`/`labels` follow the customer_features / customer_labels contracts."""
    cfg = config or PropensityConfig()
    rs = cfg.random_state
    spec = resolve_features(
        features,
        NUMERIC_FEATURES if numeric is None else numeric,
        CATEGORICAL_FEATURES if categorical is None else categorical,
        skewed,
    )
    labelled = labels[[KEY, CUTOFF]].drop_duplicates()
    rate = min(1.0, cfg.max_train_rows / max(len(labelled), 1))
    u_feat = stable_unit_hash(features[KEY], salt=f"propensity{rs}")
    u_lab = stable_unit_hash(labels[KEY], salt=f"propensity{rs}")
    frame = build_training_set(
        features.loc[u_feat < rate, [KEY, CUTOFF, *spec.columns]],
        labels.loc[u_lab < rate],
        as_of=as_of,
        horizon_days=cfg.horizon_days,
        transactions=transactions,
        numeric=spec.numeric,
    )
    y_all = frame[LABEL].to_numpy()
    if y_all.all() or not y_all.any():
        raise ValueError("labels have a single class; nothing to learn")
    cutoffs = sorted(frame[CUTOFF].unique())
    frame["_u"] = stable_unit_hash(frame[KEY], salt=f"propensity{rs}")
    per_cutoff = frame.groupby(CUTOFF).size().max()
    cv_rate = min(1.0, cfg.cv_rows_per_cutoff / per_cutoff) * rate
    cv = frame[frame["_u"] < cv_rate].reset_index(drop=True)

    folds = cutoff_folds(cutoffs, horizon_days=cfg.horizon_days, n_folds=cfg.n_folds)
    if folds:
        scheme = "expanding_window_by_cutoff"
        splits = list(iter_fold_indices(cv, folds))
        fold_names = [str(f.valid_cutoff) for f in folds]
    else:
        # One labelled cutoff: no earlier cutoff to train on. Split customers (not rows over
        # time) by hash; flagged in the report because it says nothing about drift over time.
        scheme = "single_cutoff_customer_holdout"
        hold = cv["_u"] >= cv_rate * 0.7
        splits = [(np.flatnonzero(~hold), np.flatnonzero(hold))]
        fold_names = [str(cutoffs[-1])]
    X_cv = cv[list(spec.columns)]
    y_cv = cv[LABEL].to_numpy()

    results: dict[str, dict] = {}
    oof: dict[str, np.ndarray] = {}
    last_models: dict[str, Pipeline] = {}
    valid_rows = np.concatenate([v for _, v in splits])
    for name in cfg.candidates:
        pred = np.full(len(cv), np.nan)
        folds_metrics = []
        try:
            for (tr, va), fname in zip(splits, fold_names, strict=True):
                pipe = make_candidate(name, spec, cfg).fit(X_cv.iloc[tr], y_cv[tr])
                pred[va] = pipe.predict_proba(X_cv.iloc[va])[:, 1]
                folds_metrics.append(
                    {"valid_cutoff": fname, "n_train": len(tr), **classification_metrics(y_cv[va], pred[va])}
                )
                last_models[name] = pipe
        except Exception as exc:  # a candidate that cannot fit must not sink the others
            log.warning("candidate %s failed: %s", name, exc)
            results[name] = {"error": repr(exc), "eligible": False}
            continue
        last_va = splits[-1][1]
        mono = {
            c: recency_monotonic_check(last_models[name], X_cv.iloc[last_va], feature=c, direction=d)
            for c, d in cfg.monotonic.items()
        }
        pr = [m["pr_auc"] for m in folds_metrics]
        results[name] = {
            "folds": folds_metrics,
            "mean_pr_auc": float(np.mean(pr)),
            "mean_roc_auc": float(np.mean([m["roc_auc"] for m in folds_metrics])),
            "mean_brier": float(np.mean([m["brier"] for m in folds_metrics])),
            "monotonic": mono,
            "eligible": all(m["passed"] for m in mono.values()),
        }
        oof[name] = pred

    ok = [n for n, r in results.items() if r.get("eligible")]
    if not ok:
        ok = [n for n, r in results.items() if "error" not in r]
        log.warning("no candidate passes the monotonicity check; choosing among all")
    if not ok:
        raise RuntimeError("every propensity candidate failed to fit")
    best = max(ok, key=lambda n: (results[n]["mean_pr_auc"], -list(cfg.candidates).index(n)))

    # Threshold from the earlier validation folds, reported on the last one.
    p_best = oof[best]
    last_va = splits[-1][1]
    earlier = np.setdiff1d(valid_rows, last_va)
    tuned_on = earlier if len(earlier) and 0 < y_cv[earlier].sum() < len(earlier) else last_va
    threshold = max_f1_threshold(y_cv[tuned_on], p_best[tuned_on])
    holdout_metrics = classification_metrics(y_cv[last_va], p_best[last_va], threshold)

    vr = valid_rows
    curves_roc, curves_cal = {}, {}
    for name, p in oof.items():
        fpr, tpr, _ = roc_curve(y_cv[vr], p[vr])
        curves_roc[name] = (fpr, tpr, float(roc_auc_score(y_cv[vr], p[vr])))
        obs, pred_mean = calibration_curve(y_cv[vr], p[vr], n_bins=10, strategy="quantile")
        curves_cal[name] = (pred_mean, obs)
    lift = lift_table(y_cv[vr], p_best[vr], cv[KEY].to_numpy()[vr], cv[CUTOFF].to_numpy()[vr])

    imp_rows = last_va[:: max(1, len(last_va) // cfg.importance_rows)][: cfg.importance_rows]
    imp = permutation_importance(
        last_models[best],
        X_cv.iloc[imp_rows],
        y_cv[imp_rows],
        scoring="average_precision",
        n_repeats=cfg.importance_repeats,
        random_state=rs,
        n_jobs=1,
    )
    importance = (
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

    final = make_candidate(best, spec, cfg).fit(frame[list(spec.columns)], y_all)
    model = PropensityModel(final, spec, best, threshold, cfg.horizon_days)
    holdout_model = PropensityModel(last_models[best], spec, best, threshold, cfg.horizon_days)
    holdout = cv.iloc[last_va][[KEY, CUTOFF, *spec.columns, LABEL]].reset_index(drop=True)
    scores = score_propensity(model, features, as_of=None)

    window = {
        "first_cutoff": str(cutoffs[0]),
        "last_cutoff": str(cutoffs[-1]),
        "label_window_end": str(pd.Timestamp(cutoffs[-1]) + pd.Timedelta(days=cfg.horizon_days)),
        "n_cutoffs": len(cutoffs),
    }
    report = {
        "chosen": best,
        "selection": "max mean validation PR AUC among candidates passing the recency monotonicity check",
        "cv_scheme": scheme,
        "folds": fold_names,
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
        "n_train_final": len(frame),
        "n_cv_rows": len(cv),
        "sample_rate_final": rate,
        "sample_rate_cv": cv_rate,
        "training_window": window,
        "features": spec.to_dict(),
        "random_state": rs,
    }
    plots = {"roc.png": roc_png(curves_roc), "calibration.png": calibration_png(curves_cal)}
    training = frame.drop(columns=["_u"])
    return PropensityResult(model, scores, report, plots, holdout_model, holdout, training, window)


def score_propensity(model: PropensityModel, features: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Score the latest cutoff (or `as_of`): customer_key, purchase_propensity, propensity_decile."""
    df = latest_cutoff(features, as_of)
    p = model.predict_proba(df)
    keys = df[KEY].astype(str).to_numpy()
    return pd.DataFrame({KEY: keys, "purchase_propensity": p, "propensity_decile": deciles(p, keys)})


def holdout_pr_auc(model: PropensityModel, holdout: pd.DataFrame) -> float:
    """The champion/challenger metric: PR AUC on a labelled holdout cutoff."""
    return float(average_precision_score(holdout[LABEL].astype(bool), model.predict_proba(holdout)))
