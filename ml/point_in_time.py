"""Point-in-time training sets: features as of a cutoff, labels from the window after it.

Conventions (those of marts.customer_features / customer_labels): a feature at cutoff t may only
use events strictly before t; the label of that row describes the window [t, t + horizon). A
label is usable only when its window ends at or before the run's as_of. Time-aware validation
trains on cutoffs whose label windows end at or before the validation cutoff, so no training
label has seen the period the model is asked to predict.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ml.features import CUTOFF, KEY, RECENCY_FEATURES
from ml.times import naive_utc, naive_utc_times

LABEL = "purchased_next_30d"

# Features read from the CRM record in effect at the cutoff, by their column in the CRM versions.
CRM_COLUMNS: tuple[str, ...] = ("country", "loyalty_tier", "income_band")
# A category with fewer rows is pooled with the other rare ones before judging a categorical
# feature as a copy of the outcome: a handful of rows separates anything.
MIN_CATEGORY_ROWS = 20

# Features that count or sum orders in a trailing window ending at the cutoff (None = all history).
ORDER_COUNT_WINDOWS: dict[str, int | None] = {
    "frequency_orders": None,
    "orders_30d": 30,
    "orders_90d": 90,
    "orders_365d": 365,
}


class LeakageError(ValueError):
    """A feature or label uses information it could not have had at the cutoff."""


def build_training_set(
    features: pd.DataFrame,
    labels: pd.DataFrame,
    *,
    as_of,
    horizon_days: int = 30,
    label_col: str = LABEL,
    transactions: pd.DataFrame | None = None,
    crm_versions: pd.DataFrame | None = None,
    numeric: Sequence[str] = (),
    max_single_feature_auc: float = 0.99,
) -> pd.DataFrame:
    """Join features to labels on (customer_key, feature_as_of) and refuse leaky inputs.

    Returns the joined frame sorted by (feature_as_of, customer_key). Raises LeakageError when a
    label window is not fully observed by as_of, or when `validate_point_in_time` finds a
    feature that uses information from after its cutoff.
    """
    as_of = naive_utc(as_of)
    feats = features.copy()
    labs = labels[[KEY, CUTOFF, label_col]].copy()
    feats[CUTOFF] = naive_utc_times(feats[CUTOFF])
    labs[CUTOFF] = naive_utc_times(labs[CUTOFF])
    check_label_windows(labs[CUTOFF], as_of=as_of, horizon_days=horizon_days)
    if labs.duplicated([KEY, CUTOFF]).any():
        raise ValueError("customer_labels has duplicate (customer_key, feature_as_of) rows")
    frame = feats.merge(labs, on=[KEY, CUTOFF], how="inner", validate="one_to_one")
    if frame.empty:
        raise ValueError("no feature row has a label: check that the cutoffs of both tables match")
    frame[label_col] = frame[label_col].astype(bool)
    validate_point_in_time(
        frame,
        label_col=label_col,
        transactions=transactions,
        crm_versions=crm_versions,
        numeric=numeric,
        max_single_feature_auc=max_single_feature_auc,
    )
    return frame.sort_values([CUTOFF, KEY], kind="mergesort").reset_index(drop=True)


def check_label_windows(cutoffs: pd.Series, *, as_of, horizon_days: int) -> None:
    """Every label window [t, t + horizon) must have ended by as_of; otherwise the label is a
    partial count that looks like churn."""
    as_of = naive_utc(as_of)
    ends = naive_utc_times(cutoffs) + pd.Timedelta(days=horizon_days)
    bad = ends > as_of
    if bad.any():
        late = sorted(pd.Series(naive_utc_times(cutoffs)[bad]).unique())
        raise LeakageError(
            f"label window not fully observed before as_of={as_of}: cutoffs {[str(t) for t in late[:5]]}"
        )


def validate_point_in_time(
    frame: pd.DataFrame,
    *,
    label_col: str | None = LABEL,
    transactions: pd.DataFrame | None = None,
    crm_versions: pd.DataFrame | None = None,
    numeric: Sequence[str] = (),
    max_single_feature_auc: float = 0.99,
    max_violation_share: float = 0.01,
) -> None:
    """Raise LeakageError if any feature could only be known after its cutoff.

    Checks: (1) timestamp columns later than feature_as_of; (2) negative days-since features;
    (3) with `transactions`, order counts larger than the orders observable in the trailing
    window at the cutoff, for more than `max_violation_share` of rows (assumes, as the contract
    says, that marts and transactions both count completed orders net of refunds; a purchase
    refunded after a cutoff still counts at it, so transactions known at as_of may show a few
    rows fewer, within the share); (4) with
    `crm_versions` (customer_key, valid_from and the CRM columns), a CRM-derived value that is not
    the one of the version written last before the cutoff (a value where none was written yet is
    a future version backfilled), for more than `max_violation_share` of rows; (5) a single
    numeric or categorical feature that alone separates the label almost perfectly (ROC AUC above
    `max_single_feature_auc`; a category scores by its label rate, missing is a category of its
    own), which in practice is a copy of the outcome.
    """
    problems: list[str] = []
    cutoff = naive_utc_times(frame[CUTOFF])

    for col in frame.columns:
        if col == CUTOFF or not (
            pd.api.types.is_datetime64_any_dtype(frame[col])
            or isinstance(frame[col].dtype, pd.DatetimeTZDtype)
        ):
            continue
        later = (naive_utc_times(frame[col]) >= cutoff).sum()
        if later:
            problems.append(f"{col}: {later} timestamps at or after feature_as_of")

    for col in (*RECENCY_FEATURES, "tenure_days"):
        if col in frame.columns:
            neg = (pd.to_numeric(frame[col], errors="coerce") < 0).sum()
            if neg:
                problems.append(f"{col}: {neg} negative values (an event after the cutoff)")

    if transactions is not None:
        problems += _order_count_violations(frame, cutoff, transactions, max_violation_share)

    if crm_versions is not None:
        problems += _crm_violations(frame, cutoff, crm_versions, max_violation_share)

    if label_col is not None and label_col in frame.columns:
        y = frame[label_col].astype(bool).to_numpy()
        if 0 < y.sum() < len(y):
            cols = list(numeric) or [
                c
                for c in frame.columns
                if c not in (KEY, CUTOFF, label_col) and pd.api.types.is_numeric_dtype(frame[c])
            ]
            categorical = [
                c
                for c in frame.columns
                if c not in (KEY, CUTOFF, label_col)
                and not pd.api.types.is_numeric_dtype(frame[c])
                and not pd.api.types.is_datetime64_any_dtype(frame[c])
            ]
            problems += _outcome_copies(frame, y, cols, categorical, label_col, max_single_feature_auc)

    if problems:
        raise LeakageError("point-in-time violation: " + "; ".join(problems))


def _rows_at_cutoff(frame: pd.DataFrame, cutoff: pd.Series) -> pd.DataFrame:
    """Each feature row as (customer_key, cutoff, row number): what the order-count and CRM checks
    join the history to, and how they map a finding back to its row."""
    return pd.DataFrame(
        {KEY: frame[KEY].astype(str).to_numpy(), "cutoff": cutoff.to_numpy(), "row": np.arange(len(frame))}
    )


def _order_count_violations(
    frame: pd.DataFrame, cutoff: pd.Series, transactions: pd.DataFrame, max_share: float
) -> list[str]:
    cols = [c for c in ORDER_COUNT_WINDOWS if c in frame.columns]
    if not cols:
        return []
    tx = pd.DataFrame({KEY: transactions[KEY].astype(str), "at": naive_utc_times(transactions["ordered_at"])})
    rows = _rows_at_cutoff(frame, cutoff)
    joined = rows.merge(tx, on=KEY, how="inner")
    joined = joined[joined["at"] < joined["cutoff"]]
    age_days = (joined["cutoff"] - joined["at"]) / pd.Timedelta(days=1)
    problems = []
    for col in cols:
        window = ORDER_COUNT_WINDOWS[col]
        # inclusive at the far edge: a boundary convention must not look like a leak
        in_window = joined if window is None else joined[age_days <= window]
        observed = np.bincount(in_window["row"].to_numpy(), minlength=len(rows))
        value = pd.to_numeric(frame[col], errors="coerce").fillna(0).to_numpy()
        share = float(np.mean(value > observed + 0.5))
        if share > max_share:
            problems.append(f"{col}: {share:.1%} of rows count more orders than existed by the cutoff")
    return problems


def _crm_violations(
    frame: pd.DataFrame, cutoff: pd.Series, versions: pd.DataFrame, max_share: float
) -> list[str]:
    """CRM-derived values that differ from the version in effect at the cutoff (the latest with
    valid_from strictly before it), or that are set where no version was in effect."""
    cols = [c for c in CRM_COLUMNS if c in frame.columns and c in versions.columns]
    if not cols or frame.empty:
        return []
    rows = _rows_at_cutoff(frame, cutoff)
    known = versions[[KEY, "valid_from", *cols]].copy()
    known[KEY] = known[KEY].astype(str)
    known["valid_from"] = naive_utc_times(known["valid_from"])
    known = known.rename(columns={c: f"{c}__in_effect" for c in cols})
    in_effect = pd.merge_asof(
        rows.sort_values("cutoff"),
        known.dropna(subset=["valid_from"]).sort_values("valid_from"),
        left_on="cutoff",
        right_on="valid_from",
        by=KEY,
        direction="backward",
        allow_exact_matches=False,
    ).sort_values("row")
    problems = []
    for col in cols:
        actual = frame[col].astype(object).where(frame[col].notna(), None).to_numpy()
        expected = in_effect[f"{col}__in_effect"].astype(object)
        expected = expected.where(expected.notna(), None).to_numpy()
        wrong = np.array([a is not None and a != e for a, e in zip(actual, expected, strict=True)])
        share = float(wrong.mean())
        if share > max_share:
            future = np.array([a is not None and e is None for a, e in zip(actual, expected, strict=True)])
            problems.append(
                f"{col}: {share:.1%} of rows differ from the CRM version in effect at their cutoff "
                f"({int(future.sum())} set where no version had been written yet)"
            )
    return problems


def _outcome_copies(
    frame: pd.DataFrame,
    y: np.ndarray,
    numeric: Sequence[str],
    categorical: Sequence[str],
    label_col: str,
    limit: float,
) -> list[str]:
    """Features that alone separate the label beyond `limit` ROC AUC, in either direction: one
    rule for numeric and categorical features, only their scores differ."""
    problems = []
    for col, labels, score, claim in (
        *_numeric_scores(frame, y, numeric),
        *_categorical_scores(frame, y, categorical),
    ):
        auc = roc_auc_score(labels, score)
        if max(auc, 1 - auc) > limit:
            problems.append(f"{col}: {claim} {label_col} with ROC AUC {max(auc, 1 - auc):.3f}")
    return problems


def _numeric_scores(
    frame: pd.DataFrame, y: np.ndarray, cols: Sequence[str]
) -> Iterator[tuple[str, np.ndarray, np.ndarray, str]]:
    """Each numeric feature as its own score on its finite values (at most 200,000 rows, a fixed
    sample); a feature with fewer than 20 of them, or with one class only, cannot be judged."""
    sample = np.arange(len(y))
    if len(sample) > 200_000:
        sample = np.random.default_rng(0).choice(sample, 200_000, replace=False)
    for col in cols:
        if col not in frame.columns:
            continue
        x = pd.to_numeric(frame[col].iloc[sample], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(x)
        ys = y[sample][ok]
        if ok.sum() < 20 or ys.all() or not ys.any():
            continue
        yield col, ys, x[ok], "alone predicts"


def _categorical_scores(
    frame: pd.DataFrame, y: np.ndarray, cols: Sequence[str]
) -> Iterator[tuple[str, np.ndarray, np.ndarray, str]]:
    """Each categorical feature scored by the label rate of its category (missing is a category,
    rare ones are pooled: a handful of rows separates anything); one category cannot be judged."""
    for col in cols:
        values = frame[col].astype(object).where(frame[col].notna(), "<missing>").astype(str)
        counts = values.map(values.value_counts())
        values = values.where(counts >= MIN_CATEGORY_ROWS, "<rare>")
        if values.nunique() < 2:
            continue
        rate = pd.Series(y.astype(float)).groupby(values.to_numpy()).transform("mean").to_numpy()
        yield col, y, rate, "its categories alone predict"


@dataclass(frozen=True)
class CutoffFold:
    train_cutoffs: tuple[pd.Timestamp, ...]
    valid_cutoff: pd.Timestamp


def cutoff_folds(cutoffs: Sequence, *, horizon_days: int = 30, n_folds: int = 3) -> list[CutoffFold]:
    """Expanding-window folds over cutoffs: validate on each of the last `n_folds` cutoffs, train
    on every cutoff whose label window [t, t + horizon) ends at or before the validation cutoff."""
    uniq = sorted({naive_utc(c) for c in cutoffs})
    gap = pd.Timedelta(days=horizon_days)
    folds = []
    for valid in uniq[::-1]:
        train = tuple(t for t in uniq if t + gap <= valid)
        if train:
            folds.append(CutoffFold(train, valid))
        if len(folds) == n_folds:
            break
    return folds[::-1]


def iter_fold_indices(
    frame: pd.DataFrame, folds: Sequence[CutoffFold]
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Row positions (train, valid) of each fold in `frame`."""
    cut = naive_utc_times(frame[CUTOFF]).to_numpy()
    for fold in folds:
        train = np.flatnonzero(np.isin(cut, np.array(fold.train_cutoffs, dtype=cut.dtype)))
        valid = np.flatnonzero(cut == np.datetime64(fold.valid_cutoff))
        yield train, valid
