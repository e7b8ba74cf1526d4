"""Assemble `ml.customer_scores` from the propensity and BTYD outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ml.btyd import METHOD_NONE
from ml.features import KEY

SCORE_COLUMNS = (
    KEY,
    "purchase_propensity",
    "propensity_decile",
    "propensity_method",
    "churn_risk",
    "probability_alive",
    "churn_method",
    "expected_purchases_365d",
    "predicted_clv_365d",
    "clv_method",
    "propensity_model_version",
    "clv_model_version",
    "scored_at",
)


def assemble_customer_scores(
    propensity_scores: pd.DataFrame,
    btyd_scores: pd.DataFrame,
    *,
    propensity_model_version: str | None,
    clv_model_version: str | None,
    scored_at,
    horizon_days: int = 365,
    customers: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per customer (union of both inputs and `customers`), sorted by customer_key.

    Customers without a purchase before as_of have clv_method 'no_purchase_history' and NULL
    churn/CLV values: BTYD models start at the first purchase, and a made-up zero would read
    as a prediction. The horizon suffix of the BTYD columns becomes `_365d` whatever the horizon
    is only when horizon_days is 365; otherwise the columns keep their own horizon suffix.
    """
    suffix = f"{horizon_days}d"
    p = propensity_scores[[KEY, "purchase_propensity", "propensity_decile", "propensity_method"]].copy()
    b = btyd_scores[
        [
            KEY,
            "churn_risk",
            "probability_alive",
            f"expected_purchases_{suffix}",
            f"predicted_clv_{suffix}",
            "clv_method",
            "churn_method",
        ]
    ].copy()
    for f in (p, b):
        f[KEY] = f[KEY].astype(str)
    out = p.merge(b, on=KEY, how="outer")
    if customers is not None:
        extra = pd.DataFrame({KEY: pd.unique(customers.astype(str).to_numpy())})
        out = out.merge(extra, on=KEY, how="outer")
    for col in ("clv_method", "churn_method"):
        out[col] = out[col].astype(object).where(out[col].notna(), METHOD_NONE)
    out["propensity_decile"] = out["propensity_decile"].astype("Int64")
    out["propensity_model_version"] = propensity_model_version
    out["clv_model_version"] = clv_model_version
    out["scored_at"] = pd.Timestamp(scored_at)
    methods = ("clv_method", "churn_method", "propensity_method")
    for col in (*methods, "propensity_model_version", "clv_model_version", KEY):
        out[col] = pd.array(out[col].astype(object).where(out[col].notna(), None), dtype="str")
    cols = [c.replace("365d", suffix) for c in SCORE_COLUMNS]
    out = out[cols].sort_values(KEY, kind="mergesort").reset_index(drop=True)
    for col in ("purchase_propensity", "churn_risk", "probability_alive"):
        out[col] = out[col].astype(np.float64)
    return out
