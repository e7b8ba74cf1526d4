"""Recommendations: exclusions, popularity fill, sparse top-k, and a real gain over popularity."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from ml.features import KEY
from ml.recommend import evaluate_hit_rate, fit_item_cf, recommend, top_k_per_row

N = 10


@pytest.fixture(scope="module")
def model(data):
    return fit_item_cf(data.interactions, data.products)


@pytest.fixture(scope="module")
def recs(model, data):
    return recommend(
        model, data.interactions, n=N, customers=pd.concat([data.truth[KEY], pd.Series(["cold-1"])])
    )


def test_never_recommends_bought_or_inactive_items(recs, data):
    bought = data.interactions[data.interactions["interaction"] == "purchase"][
        [KEY, "product_id"]
    ].drop_duplicates()
    assert recs.merge(bought, on=[KEY, "product_id"]).empty
    inactive = set(data.products.loc[~data.products["active"], "product_id"])
    assert inactive and not set(recs["product_id"]) & inactive
    assert set(recs["product_id"]) <= set(data.products["product_id"])


def test_every_customer_gets_n_ranked_distinct_items(recs, data):
    assert list(recs.columns) == [KEY, "rank", "product_id", "score", "source"]
    per = recs.groupby(KEY)
    assert (per.size() == N).all()
    assert recs.groupby(KEY)["rank"].apply(lambda r: list(r) == list(range(1, N + 1))).all()
    assert not recs.duplicated([KEY, "product_id"]).any()
    cf = recs[recs["source"] == "item_cf"]
    assert (cf.groupby(KEY)["score"].diff().dropna() <= 1e-12).all()
    # CF items come first, popularity only fills
    first_pop = recs[recs["source"] == "popularity"].groupby(KEY)["rank"].min()
    last_cf = cf.groupby(KEY)["rank"].max()
    both = first_pop.index.intersection(last_cf.index)
    assert (first_pop[both] > last_cf[both]).all()


def test_cold_customer_gets_the_most_popular_active_items(recs, model):
    cold = recs[recs[KEY] == "cold-1"]
    assert (cold["source"] == "popularity").all() and len(cold) == N
    order = np.lexsort((model.item_ids.astype(str), -model.popularity))
    expected = [model.item_ids[i] for i in order if model.recommendable[i]][:N]
    assert list(cold["product_id"]) == expected


def test_item_cf_beats_popularity_on_data_with_item_structure(data):
    res = evaluate_hit_rate(
        data.interactions, data.products, split_at=data.as_of - pd.Timedelta(days=60), n=N
    )
    assert res["n_test_customers"] > 100
    assert res["hit_rate_item_cf"] > 1.5 * res["hit_rate_popularity"]


def test_top_k_per_row_matches_dense_reference():
    rng = np.random.default_rng(0)
    m = sp.random(50, 40, density=0.3, random_state=1, format="csr")
    m.data = np.round(rng.random(m.nnz) * 5)  # ties on purpose
    got = top_k_per_row(m, 4).toarray()
    dense = m.toarray()
    for i in range(dense.shape[0]):
        nz = np.flatnonzero(dense[i])
        keep = sorted(nz, key=lambda j: (-dense[i, j], j))[:4]
        want = np.zeros(dense.shape[1])
        want[keep] = dense[i, keep]
        np.testing.assert_array_equal(got[i], want)


def test_recommendations_are_deterministic_and_order_free(model, data, recs):
    shuffled = data.interactions.sample(frac=1.0, random_state=2)
    again = recommend(
        fit_item_cf(shuffled, data.products.sample(frac=1.0, random_state=3)),
        shuffled,
        n=N,
        customers=pd.concat([data.truth[KEY], pd.Series(["cold-1"])]),
    )
    pd.testing.assert_frame_equal(recs, again, check_exact=False, rtol=1e-6)
