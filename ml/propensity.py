"""Purchase propensity: will the customer buy in the 30 days after the cutoff?

Training is point-in-time: features at each labelled cutoff, label from the window after it
(see ml.point_in_time). Candidates (logistic regression, random forest, histogram gradient
boosting) and the naive baselines of ml.baselines (order count, recency, RFM score) are compared
with expanding-window cross-validation over cutoffs: each fold validates on one cutoff and trains
only on cutoffs whose label windows ended by then.

Selection (ml.propensity_selection) looks only at the folds before the latest: the best mean PR
AUC there (the metric that matters when 10-30 % of customers buy and marketing targets the top of
the ranking) among candidates that pass the recency monotonicity check (ml.propensity_validation):
a customer who bought more recently, all else equal, must never score lower. Gradient boosting
enforces this with a monotonic constraint; the other candidates are checked on a grid and are not
eligible if they break it (a random forest usually does).

Gate (ml.gates): the chosen model is served only if, on the latest fold, its ROC AUC beats every
baseline's by `gates.propensity_margin`; otherwise the baseline chosen on the earlier folds is
served, and its name is what `customer_scores.propensity_method` shows. The served one is refit on
all labelled cutoffs and scores the latest cutoff.

Threshold: maximizes F1 on the validation folds before the last one, and is then reported on the
last fold, so neither the choice nor the F1 is tuned on the data they are reported on. The report
and plots are built in ml.propensity_report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline

from ml.baselines import available_baselines
from ml.features import (
    CATEGORICAL_FEATURES,
    CUTOFF,
    KEY,
    NUMERIC_FEATURES,
    FeatureSpec,
    align_columns,
    latest_cutoff,
    resolve_features,
    stable_unit_hash,
)
from ml.gates import GateSettings
from ml.point_in_time import LABEL, build_training_set, cutoff_folds, iter_fold_indices
from ml.propensity_metrics import deciles
from ml.propensity_report import importance_table, propensity_plots, propensity_report, validation_curves
from ml.propensity_selection import (
    choose_candidate,
    evaluate_candidates,
    gate_on_latest_fold,
    make_candidate,
    selection_folds,
)
from ml.propensity_validation import require_two_classes, threshold_and_holdout_metrics

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
    gates: GateSettings = field(default_factory=GateSettings)


@dataclass
class PropensityModel:
    """The persisted model: the fitted Pipeline plus what is needed to use it correctly."""

    pipeline: Pipeline
    spec: FeatureSpec
    algorithm: str
    threshold: float
    horizon_days: int

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        """P(buy) per row, each row's value independent of the other rows scored with it, so that
        scoring in batches (ml.batch_scoring) gives what scoring everyone at once gives, bit for bit.
        Trees are per row already; a logistic regression's X @ coef is BLAS, whose kernels sum in
        an order that depends on the rows' count and position (last-bit differences), so its
        probability is the same formula, expit(X . coef + intercept), summed row by row."""
        X = align_columns(features, self.spec)
        final = self.pipeline[-1]
        if isinstance(final, LogisticRegression) and final.coef_.shape[0] == 1 and len(self.pipeline) > 1:
            Z = np.asarray(self.pipeline[:-1].transform(X), dtype=np.float64)
            return expit(np.einsum("ij,j->i", Z, final.coef_[0]) + final.intercept_[0])
        return self.pipeline.predict_proba(X)[:, 1]


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


@dataclass
class TrainingData:
    """The point-in-time training set (sampled to max_train_rows) and its cross-validation view:
    a smaller hash sample per cutoff, split into folds by cutoff."""

    frame: pd.DataFrame  # every sampled labelled row, with the hash column "_u"
    cutoffs: list
    rate: float  # share of customers kept for the final fit
    cv: pd.DataFrame
    cv_rate: float  # share of customers kept for cross-validation
    X_cv: pd.DataFrame
    y_cv: np.ndarray
    scheme: str
    splits: list[tuple[np.ndarray, np.ndarray]]
    fold_names: list[str]

    @property
    def last_valid(self) -> np.ndarray:
        """Rows of the last validation fold: the holdout."""
        return self.splits[-1][1]

    @property
    def valid_rows(self) -> np.ndarray:
        return np.concatenate([v for _, v in self.splits])


def prepare_training_data(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    spec: FeatureSpec,
    cfg: PropensityConfig,
    *,
    as_of,
    transactions: pd.DataFrame | None,
) -> TrainingData:
    salt = f"propensity{cfg.random_state}"
    labelled = labels[[KEY, CUTOFF]].drop_duplicates()
    rate = min(1.0, cfg.max_train_rows / max(len(labelled), 1))
    frame = build_training_set(
        features.loc[stable_unit_hash(features[KEY], salt=salt) < rate, [KEY, CUTOFF, *spec.columns]],
        labels.loc[stable_unit_hash(labels[KEY], salt=salt) < rate],
        as_of=as_of,
        horizon_days=cfg.horizon_days,
        transactions=transactions,
        numeric=spec.numeric,
    )
    require_two_classes(frame[LABEL].to_numpy())
    cutoffs = sorted(frame[CUTOFF].unique())
    frame["_u"] = stable_unit_hash(frame[KEY], salt=salt)
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
    return TrainingData(
        frame=frame,
        cutoffs=cutoffs,
        rate=rate,
        cv=cv,
        cv_rate=cv_rate,
        X_cv=cv[list(spec.columns)],
        y_cv=cv[LABEL].to_numpy(),
        scheme=scheme,
        splits=splits,
        fold_names=fold_names,
    )


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
    spec = resolve_features(
        features,
        NUMERIC_FEATURES if numeric is None else numeric,
        CATEGORICAL_FEATURES if categorical is None else categorical,
        skewed,
    )
    data = prepare_training_data(features, labels, spec, cfg, as_of=as_of, transactions=transactions)

    baselines = available_baselines(spec.columns)
    results, oof, last_models = evaluate_candidates(data, spec, cfg, [*cfg.candidates, *baselines])
    folds = selection_folds(len(data.splits))
    model_choice = choose_candidate(results, cfg.candidates, folds)
    gate, _ = gate_on_latest_fold(
        results, model_choice, baselines, cfg.gates.propensity_metric, cfg.gates.propensity_margin
    )
    best = gate.served
    threshold, holdout_metrics = threshold_and_holdout_metrics(
        data.y_cv, oof[best], data.valid_rows, data.last_valid
    )

    curves_roc, curves_cal = validation_curves(oof, data.y_cv, data.valid_rows)
    importance = importance_table(last_models[best], data, spec, cfg)

    final = make_candidate(best, spec, cfg).fit(data.frame[list(spec.columns)], data.frame[LABEL].to_numpy())
    model = PropensityModel(final, spec, best, threshold, cfg.horizon_days)
    holdout_model = PropensityModel(last_models[best], spec, best, threshold, cfg.horizon_days)
    holdout = data.cv.iloc[data.last_valid][[KEY, CUTOFF, *spec.columns, LABEL]].reset_index(drop=True)
    scores = score_propensity(model, features, as_of=None)

    cutoffs = data.cutoffs
    window = {
        "first_cutoff": str(cutoffs[0]),
        "last_cutoff": str(cutoffs[-1]),
        "label_window_end": str(pd.Timestamp(cutoffs[-1]) + pd.Timedelta(days=cfg.horizon_days)),
        "n_cutoffs": len(cutoffs),
    }
    report = propensity_report(
        chosen=best,
        model_choice=model_choice,
        gate=gate,
        selection=folds,
        data=data,
        results=results,
        oof=oof,
        threshold=threshold,
        holdout_metrics=holdout_metrics,
        curves_cal=curves_cal,
        importance=importance,
        window=window,
        spec=spec,
        cfg=cfg,
    )
    training = data.frame.drop(columns=["_u"])
    return PropensityResult(
        model,
        scores,
        report,
        propensity_plots(curves_roc, curves_cal),
        holdout_model,
        holdout,
        training,
        window,
    )


def score_propensity(model: PropensityModel, features: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Score the latest cutoff (or `as_of`): customer_key, purchase_propensity, propensity_decile,
    propensity_method (the served algorithm, `baseline_*` when a naive baseline is served)."""
    df = latest_cutoff(features, as_of)
    p = model.predict_proba(df)
    keys = df[KEY].astype(str).to_numpy()
    return pd.DataFrame(
        {
            KEY: keys,
            "purchase_propensity": p,
            "propensity_decile": deciles(p, keys),
            "propensity_method": pd.array([model.algorithm] * len(keys), dtype="str"),
        }
    )


def holdout_pr_auc(model: PropensityModel, holdout: pd.DataFrame) -> float:
    """The champion/challenger metric: PR AUC on a labelled holdout cutoff."""
    return float(average_precision_score(holdout[LABEL].astype(bool), model.predict_proba(holdout)))
