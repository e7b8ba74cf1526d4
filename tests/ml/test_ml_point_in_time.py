"""No leakage: features may only use the past of their cutoff, labels only the window after it."""

import numpy as np
import pandas as pd
import pytest

from ml.features import CUTOFF, KEY
from ml.point_in_time import (
    CRM_COLUMNS,
    LABEL,
    LeakageError,
    build_training_set,
    cutoff_folds,
    iter_fold_indices,
)


def _labelled(data):
    """The synthetic features restricted to labelled cutoffs, and their transactions."""
    return data.customer_features, data.customer_labels, data.transactions, data.as_of


def test_clean_inputs_pass_every_check(data):
    feats, labels, tx, as_of = _labelled(data)
    frame = build_training_set(feats, labels, as_of=as_of, transactions=tx)
    assert len(frame) == len(labels)
    assert frame[LABEL].dtype == bool
    assert (frame[CUTOFF] + pd.Timedelta(days=30) <= as_of).all()


def test_feature_counting_orders_after_the_cutoff_is_detected(data):
    """orders_30d computed over (t - 30, t + 30] instead of (t - 30, t]: it has peeked into the
    label window, and the recount from transactions at the cutoff catches it."""
    feats, labels, tx, as_of = _labelled(data)
    leaky = feats.copy()
    tx_at = pd.to_datetime(tx["ordered_at"])
    joined = leaky[[KEY, CUTOFF]].reset_index().merge(tx.assign(at=tx_at)[[KEY, "at"]], on=KEY)
    age = (joined[CUTOFF] - joined["at"]) / pd.Timedelta(days=1)
    window = joined[(age < 30) & (age > -30)]
    leaky["orders_30d"] = window.groupby("index").size().reindex(leaky.index, fill_value=0).astype(float)
    with pytest.raises(LeakageError, match="orders_30d"):
        build_training_set(leaky, labels, as_of=as_of, transactions=tx)


def test_copy_of_the_outcome_is_detected(data):
    feats, labels, _, as_of = _labelled(data)
    leaky = feats.merge(labels[[KEY, CUTOFF, "revenue_next_30d"]], on=[KEY, CUTOFF], how="left")
    leaky = leaky.rename(columns={"revenue_next_30d": "spend_signal"})
    with pytest.raises(LeakageError, match="spend_signal"):
        build_training_set(leaky, labels, as_of=as_of)


def _crm_versions(features: pd.DataFrame) -> pd.DataFrame:
    """CRM versions consistent with the features: one written the day before each cutoff at which a
    customer's CRM attributes change (and before their first)."""
    rows = features.sort_values([KEY, CUTOFF])[[KEY, CUTOFF, *CRM_COLUMNS]]
    values = rows[list(CRM_COLUMNS)].astype(object).fillna("<none>")
    changed = (values != values.groupby(rows[KEY]).shift()).any(axis=1)
    versions = rows[changed.to_numpy()]
    return versions[[KEY, *CRM_COLUMNS]].assign(valid_from=versions[CUTOFF] - pd.Timedelta(days=1))


def test_a_crm_record_written_after_the_cutoff_and_backfilled_is_detected(data):
    """The leak seen on the Online Retail example: a customer whose only CRM record was written
    after a cutoff gets that record's country and tier at the cutoff anyway."""
    feats, labels, tx, as_of = _labelled(data)
    versions = _crm_versions(feats)
    build_training_set(feats, labels, as_of=as_of, transactions=tx, crm_versions=versions)
    late = versions[KEY].drop_duplicates().sample(frac=0.3, random_state=0)
    written_late = versions[versions[KEY].isin(late)].drop_duplicates(KEY, keep="last")
    written_late = written_late.assign(valid_from=feats[CUTOFF].max() - pd.Timedelta(days=1))
    planted = pd.concat([versions[~versions[KEY].isin(late)], written_late])
    with pytest.raises(LeakageError, match="set where no version had been written yet"):
        build_training_set(feats, labels, as_of=as_of, transactions=tx, crm_versions=planted)


def test_a_loyalty_tier_of_a_later_version_is_detected(data):
    feats, labels, tx, as_of = _labelled(data)
    versions = _crm_versions(feats)
    upgraded = versions[KEY].drop_duplicates().sample(frac=0.2, random_state=1)
    later = versions[versions[KEY].isin(upgraded)].drop_duplicates(KEY, keep="last")
    later = later.assign(loyalty_tier="platinum", valid_from=feats[CUTOFF].max() - pd.Timedelta(days=1))
    leaky = feats.copy()
    leaky.loc[leaky[KEY].isin(upgraded), "loyalty_tier"] = "platinum"
    with pytest.raises(LeakageError, match=r"loyalty_tier: .* differ from the CRM version in effect"):
        build_training_set(
            leaky, labels, as_of=as_of, transactions=tx, crm_versions=pd.concat([versions, later])
        )


def test_a_category_that_copies_the_outcome_is_detected(data):
    """A missing country that means "will buy" (a record created at the next purchase)."""
    feats, labels, _, as_of = _labelled(data)
    leaky = feats.merge(labels[[KEY, CUTOFF, LABEL]], on=[KEY, CUTOFF], how="left")
    buys = leaky[LABEL].fillna(False).astype(bool)
    leaky["country"] = leaky["country"].fillna("GB").where(~buys, None)
    with pytest.raises(LeakageError, match="country: its categories alone predict"):
        build_training_set(leaky.drop(columns=[LABEL]), labels, as_of=as_of)


def test_timestamp_after_cutoff_and_negative_recency_are_detected(data):
    feats, labels, _, as_of = _labelled(data)
    late = feats.assign(last_order_at=feats[CUTOFF] + pd.Timedelta(days=3))
    with pytest.raises(LeakageError, match="last_order_at"):
        build_training_set(late, labels, as_of=as_of)
    neg = feats.copy()
    neg.loc[neg.index[:5], "recency_days"] = -2.0
    with pytest.raises(LeakageError, match="recency_days"):
        build_training_set(neg, labels, as_of=as_of)


def test_label_window_must_end_before_as_of(data):
    feats, labels, _, as_of = _labelled(data)
    # Pretend the run happened 10 days earlier: the last labelled cutoff's window is now open.
    with pytest.raises(LeakageError, match="not fully observed"):
        build_training_set(feats, labels, as_of=as_of - pd.Timedelta(days=10))


@pytest.mark.parametrize("step", [7, 30, 45])
def test_folds_never_train_on_a_label_window_that_overlaps_validation(step):
    cutoffs = [pd.Timestamp("2025-01-01") + pd.Timedelta(days=step * i) for i in range(10)]
    folds = cutoff_folds(cutoffs, horizon_days=30, n_folds=3)
    assert folds
    for fold in folds:
        assert fold.valid_cutoff not in fold.train_cutoffs
        assert max(fold.train_cutoffs) + pd.Timedelta(days=30) <= fold.valid_cutoff
        # expanding window: everything old enough is used
        eligible = [t for t in cutoffs if t + pd.Timedelta(days=30) <= fold.valid_cutoff]
        assert list(fold.train_cutoffs) == eligible


def test_fold_indices_match_cutoffs():
    frame = pd.DataFrame(
        {
            KEY: ["a", "b", "a", "b", "a"],
            CUTOFF: pd.to_datetime(["2025-01-01"] * 2 + ["2025-02-01"] * 2 + ["2025-03-03"]),
        }
    )
    folds = cutoff_folds(frame[CUTOFF], horizon_days=30, n_folds=2)
    (tr1, va1), (tr2, va2) = list(iter_fold_indices(frame, folds))
    np.testing.assert_array_equal(tr1, [0, 1])
    np.testing.assert_array_equal(va1, [2, 3])
    np.testing.assert_array_equal(tr2, [0, 1, 2, 3])
    np.testing.assert_array_equal(va2, [4])
