"""Segments on the real UCI Online Retail export: the buyers split into at least three groups a
marketer can act on, each of at least 5 %, stable under resampling, named truthfully, and the
customers who never completed an order are prospects by rule. Skipped where the shared data set
is absent.

Before this rule and the median-based names, the same data gave two clusters, one holding all
4,324 buyers named "Lapsed Buyers" although its median recency was the population's.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ml.cluster_names import PROSPECTS, TRAITS, is_buyer, name_claims
from ml.clustering import ClusteringConfig, fit_clusters
from ml.features import CUTOFF, KEY

REPOSITORY = Path(__file__).resolve().parents[2]
SOURCE = Path(
    os.environ.get(
        "AW_ONLINE_RETAIL_PATH",
        REPOSITORY.parent / "shared" / "datasets" / "online_retail" / "online_retail.parquet",
    )
)
AS_OF = pd.Timestamp("2011-12-10")

pytestmark = [
    pytest.mark.skipif(
        not SOURCE.is_file(),
        reason=f"{SOURCE} is absent (the UCI Machine Learning Repository data set 'Online Retail', id 352)",
    ),
    pytest.mark.slow,  # reads and clusters the whole real export
]


def order_features(path: Path) -> pd.DataFrame:
    """Per customer at AS_OF, from completed invoices only (no cancellation 'C' invoice, positive
    quantity and price): the purchase features the warehouse computes, enough to cluster on. A
    customer whose every invoice was cancelled has no completed order: a prospect."""
    lines = pd.read_parquet(path, columns=["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"])
    lines = lines[lines["CustomerID"].notna()]
    lines = lines.assign(
        customer=lines["CustomerID"].astype("int64").astype(str),
        at=pd.to_datetime(lines["InvoiceDate"], format="ISO8601"),
        revenue=lines["Quantity"] * lines["UnitPrice"],
    )
    sold = lines[~lines["InvoiceNo"].str.startswith("C") & (lines["Quantity"] > 0) & (lines["UnitPrice"] > 0)]
    invoices = sold.groupby(["customer", "InvoiceNo"]).agg(at=("at", "min"), revenue=("revenue", "sum"))
    per = (
        invoices.reset_index()
        .groupby("customer")
        .agg(
            first=("at", "min"),
            last=("at", "max"),
            frequency_orders=("InvoiceNo", "nunique"),
            monetary_total=("revenue", "sum"),
        )
    )
    recent = invoices.reset_index()
    recent = recent[recent["at"] >= AS_OF - pd.Timedelta(days=365)].groupby("customer").size()
    everyone = pd.DataFrame(index=pd.Index(sorted(lines["customer"].unique()), name="customer"))
    frame = everyone.join(per)
    return pd.DataFrame(
        {
            KEY: frame.index,
            CUTOFF: AS_OF,
            "recency_days": (AS_OF - frame["last"]).dt.days.to_numpy(dtype=float),
            "tenure_days": (
                AS_OF - lines.groupby("customer")["at"].min().reindex(frame.index)
            ).dt.days.to_numpy(),
            "frequency_orders": frame["frequency_orders"].fillna(0).to_numpy(dtype=float),
            "monetary_total": frame["monetary_total"].fillna(0).to_numpy(dtype=float),
            "avg_order_value": (frame["monetary_total"] / frame["frequency_orders"]).to_numpy(dtype=float),
            "orders_365d": recent.reindex(frame.index).fillna(0).to_numpy(dtype=float),
        }
    ).reset_index(drop=True)


@pytest.fixture(scope="module")
def features():
    return order_features(SOURCE)


@pytest.fixture(scope="module")
def segments(features):
    config = ClusteringConfig(k_values=(3, 4, 5, 6), eval_sample=2000, n_bootstrap=4)
    return fit_clusters(features, config=config)


def test_buyers_split_into_at_least_three_stable_groups_of_five_percent(features, segments):
    clusters = features.merge(segments.customer_clusters, on=KEY)
    buyers = clusters[is_buyer(clusters)]
    assert len(buyers) > 4000
    shares = buyers["cluster_id"].value_counts(normalize=True)
    assert len(shares) >= 3 and shares.min() >= 0.05, shares
    assert segments.report["supported"]
    assert segments.report["stability_ari_mean"] >= 0.8


def test_customers_without_a_completed_order_are_prospects(features, segments):
    clusters = features.merge(segments.customer_clusters, on=KEY)
    prospects = clusters["frequency_orders"] == 0
    assert prospects.sum() > 0
    assert (clusters.loc[prospects, "cluster_name"] == PROSPECTS).all()
    assert (clusters.loc[~prospects, "cluster_name"] != PROSPECTS).all()


def test_every_name_is_true_of_the_cluster_medians_against_the_buyers(features, segments):
    clusters = features.merge(segments.customer_clusters, on=KEY)
    buyers = clusters[is_buyer(clusters)]
    claims = 0
    for name, group in buyers.groupby("cluster_name"):
        for trait, direction in name_claims(name).items():
            feature, sign = TRAITS[trait]
            gap = group[feature].median() - buyers[feature].median()
            assert sign * direction * gap > 0, (
                name,
                feature,
                group[feature].median(),
                buyers[feature].median(),
            )
            claims += 1
    assert claims >= 3
    assert np.isfinite(
        segments.cluster_profiles.filter(like="_population_median").to_numpy(dtype=float)
    ).any()
    assert segments.plots["segment_profiles.png"][:4] == b"\x89PNG"
