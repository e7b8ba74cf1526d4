"""The default feature spec of `marts.customer_features` and the shared preprocessing.

Every model takes its feature lists as arguments; these constants are only the defaults, kept in
one place so the marts contract and the models cannot drift apart silently.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

log = logging.getLogger(__name__)

KEY = "customer_key"
CUTOFF = "feature_as_of"

NUMERIC_FEATURES: tuple[str, ...] = (
    "tenure_days",
    "recency_days",
    "frequency_orders",
    "monetary_total",
    "avg_order_value",
    "orders_30d",
    "orders_90d",
    "orders_365d",
    "revenue_90d",
    "revenue_365d",
    "avg_days_between_orders",
    "discount_order_share",
    "refund_share",
    "distinct_categories_bought",
    "web_sessions_30d",
    "product_views_30d",
    "add_to_cart_30d",
    "cart_abandons_30d",
    "days_since_last_seen",
    "email_delivered_90d",
    "email_open_rate_90d",
    "email_click_rate_90d",
    "days_since_last_email_engagement",
    "behaviour_score",
    "age_years",
)

CATEGORICAL_FEATURES: tuple[str, ...] = (
    "country",
    "loyalty_tier",
    "income_band",
    "preferred_device",
    "favourite_category",
)

# Shares, rates, scores and age are bounded; every other numeric feature is a heavy-tailed count,
# amount or duration, which log1p makes usable by distance-based and linear models (a customer with
# 400 orders must not dominate a k-means centre).
BOUNDED_FEATURES: tuple[str, ...] = (
    "discount_order_share",
    "refund_share",
    "email_open_rate_90d",
    "email_click_rate_90d",
    "behaviour_score",
    "age_years",
)
SKEWED_FEATURES: tuple[str, ...] = tuple(f for f in NUMERIC_FEATURES if f not in BOUNDED_FEATURES)

# Behaviour only: demographics (country, age, income) would split customers by who they are rather
# than by how they buy, which is what a marketer wants from a micro-segment.
CLUSTER_FEATURES: tuple[str, ...] = (
    "tenure_days",
    "recency_days",
    "frequency_orders",
    "monetary_total",
    "avg_order_value",
    "orders_365d",
    "discount_order_share",
    "web_sessions_30d",
    "product_views_30d",
    "add_to_cart_30d",
    "email_open_rate_90d",
    "email_click_rate_90d",
)

# Days-since features: the only ones for which "larger" unambiguously means "less engaged".
RECENCY_FEATURES: tuple[str, ...] = (
    "recency_days",
    "days_since_last_seen",
    "days_since_last_email_engagement",
)


@dataclass(frozen=True)
class FeatureSpec:
    """The feature lists a model was actually trained on (after dropping absent columns)."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    skewed: tuple[str, ...]

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "numeric": list(self.numeric),
            "categorical": list(self.categorical),
            "skewed": list(self.skewed),
        }


def resolve_features(
    df: pd.DataFrame,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    skewed: Sequence[str] | None = None,
) -> FeatureSpec:
    """Keep the listed features that exist and carry data; warn about the rest.

    Optional sources (web, email) may be missing, so an absent or all-null column is dropped with
    a warning instead of failing the run.
    """
    numeric = NUMERIC_FEATURES if numeric is None else tuple(numeric)
    categorical = CATEGORICAL_FEATURES if categorical is None else tuple(categorical)
    skewed = SKEWED_FEATURES if skewed is None else tuple(skewed)

    def keep(cols: Sequence[str]) -> tuple[str, ...]:
        kept = []
        for col in cols:
            if col not in df.columns:
                log.warning("feature %r is absent from the input; dropped", col)
            elif df[col].isna().all():
                log.warning("feature %r has no values; dropped", col)
            else:
                kept.append(col)
        return tuple(kept)

    num = keep(numeric)
    cat = keep(categorical)
    if not num and not cat:
        raise ValueError("none of the requested features is present in the input")
    return FeatureSpec(num, cat, tuple(c for c in num if c in set(skewed)))


def align_columns(df: pd.DataFrame, spec: FeatureSpec) -> pd.DataFrame:
    """Return the model's input columns in training order, adding absent ones as missing.

    At scoring time a source that existed at training may be gone; the fitted imputers then fill
    it, which is better than refusing to score everyone.
    """
    out = pd.DataFrame(index=df.index)
    for col in spec.numeric:
        if col in df.columns:
            out[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        else:
            log.warning("feature %r missing at scoring time; imputed", col)
            out[col] = np.nan
    for col in spec.categorical:
        out[col] = df[col] if col in df.columns else None
    return out


def signed_log1p(x):
    """log1p that keeps the sign, so net-of-refund money below zero stays finite and ordered."""
    x = np.asarray(x, dtype="float64")
    return np.sign(x) * np.log1p(np.abs(x))


class RareCategoryGrouper(TransformerMixin, BaseEstimator):
    """Nulls become 'missing'; categories rarer than `min_frequency` at fit time (or beyond the
    `max_categories` most frequent) become 'other'; categories never seen pass through, so the
    downstream OneHotEncoder(handle_unknown='ignore') encodes them as all zeros.

    Doing this in pandas instead of OneHotEncoder's own infrequent-category options avoids its
    per-element Python loop on string arrays (20x faster on a million rows); the output is a
    fixed-width unicode array, which numpy-based encoding handles fast.
    """

    def __init__(self, min_frequency: float = 0.005, max_categories: int = 30):
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    @staticmethod
    def _strings(X) -> pd.DataFrame:
        frame = pd.DataFrame(X).reset_index(drop=True)
        frame.columns = range(frame.shape[1])
        return frame.astype(object).where(frame.notna(), "missing").astype(str)

    def fit(self, X, y=None):
        frame = self._strings(X)
        self.n_features_in_ = frame.shape[1]
        if hasattr(X, "columns"):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.rare_ = []
        for col in frame.columns:
            share = frame[col].value_counts(normalize=True)
            keep = share[share >= self.min_frequency].index[: self.max_categories - 1]
            self.rare_.append(sorted(set(share.index) - set(keep)))
        return self

    def transform(self, X):
        frame = self._strings(X)
        for col, rare in zip(frame.columns, self.rare_, strict=True):
            if rare:
                frame[col] = frame[col].where(~frame[col].isin(rare), "other")
        return frame.to_numpy(dtype=str)

    def get_feature_names_out(self, input_features=None):
        if input_features is None:
            input_features = getattr(self, "feature_names_in_", [f"x{i}" for i in range(self.n_features_in_)])
        return np.asarray(input_features, dtype=object)


def build_preprocessor(
    spec: FeatureSpec, *, scale: bool = True, pandas_output: bool = False
) -> ColumnTransformer:
    """ColumnTransformer: signed log1p for skewed columns, median imputation, scaling, 0/1
    missing indicators (a NaN recency means 'never bought', which is information), and one-hot
    encoding of categoricals that ignores categories unseen at training.

    Indicators are deliberately not standardized: a column missing for 2 rows in 20,000 would
    otherwise become a 100-sigma outlier that k-means spends a cluster on.
    """
    plain = [c for c in spec.numeric if c not in set(spec.skewed)]
    transformers = []
    if spec.skewed:
        steps = [
            ("log1p", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="median")),
        ]
        if scale:
            steps.append(("scale", StandardScaler()))
        transformers.append(("skewed", Pipeline(steps), list(spec.skewed)))
    if plain:
        steps = [("impute", SimpleImputer(strategy="median"))]
        if scale:
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), plain))
    if spec.numeric:
        transformers.append(
            ("missing", MissingIndicator(features="missing-only", error_on_new=False), list(spec.numeric))
        )
    if spec.categorical:
        cat = Pipeline(
            [
                ("group", RareCategoryGrouper(min_frequency=0.005, max_categories=20)),
                ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float64)),
            ]
        )
        transformers.append(("categorical", cat, list(spec.categorical)))
    ct = ColumnTransformer(
        transformers, remainder="drop", verbose_feature_names_out=True, sparse_threshold=0.0
    )
    if pandas_output:
        ct.set_output(transform="pandas")
    return ct


def latest_cutoff(features: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Rows of the latest cutoff (or of `as_of`), sorted by customer_key for order independence."""
    if CUTOFF in features.columns:
        cutoffs = pd.to_datetime(features[CUTOFF])
        target = cutoffs.max() if as_of is None else pd.Timestamp(as_of)
        features = features.loc[cutoffs == target]
        if features.empty:
            raise ValueError(f"no feature rows at cutoff {target}")
    if features[KEY].duplicated().any():
        raise ValueError("customer_key is not unique within one cutoff")
    return features.sort_values(KEY, kind="mergesort").reset_index(drop=True)


def latest_customers(features: pd.DataFrame) -> pd.Series:
    """The customers scored today: every customer_key of the latest cutoff, sorted."""
    return latest_cutoff(features)[KEY]


def stable_unit_hash(keys: pd.Series, salt: str = "") -> np.ndarray:
    """A uniform number in [0, 1) per key that does not depend on row order or on process seed;
    used to sample the same customers in every run and at every cutoff."""
    values = keys.astype(str)
    if salt:
        values = values + "|" + salt
    h = pd.util.hash_pandas_object(values, index=False).to_numpy(dtype=np.uint64)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
