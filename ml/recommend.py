"""Product recommendations: item-to-item collaborative filtering with a popularity fallback.

A customer x item matrix holds log1p of weighted interaction counts (purchase 5, cart 3, view 1
by default), so co-purchase counts most and one customer's 200 views of an item do not swamp
everything. Item similarity is cosine over customers, pruned to the `n_neighbours` most similar
recommendable (active, in the catalog) items per item. A customer's score for an item is the sum
over their items of interaction weight x similarity; items they already bought are excluded,
and the list is filled up to N with the most popular recommendable items (distinct buyers over
the last `popularity_days`). Everything is scipy.sparse, processed in customer chunks: there is
never a dense customer x item matrix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.features import KEY
from ml.times import naive_utc, naive_utc_times

log = logging.getLogger(__name__)

INTERACTION_WEIGHTS = {"purchase": 5.0, "cart": 3.0, "view": 1.0}


@dataclass
class ItemCFModel:
    item_ids: np.ndarray
    similarity: sp.csr_matrix
    recommendable: np.ndarray
    popularity: np.ndarray
    weights: dict[str, float]
    n_neighbours: int
    trained_until: str
    n_customers: int
    n_interactions: int

    def item_index(self, product_ids) -> np.ndarray:
        return pd.Index(self.item_ids).get_indexer(pd.Index(np.asarray(product_ids, dtype=object)))


def _until(interactions: pd.DataFrame, as_of) -> pd.DataFrame:
    if as_of is None:
        return interactions
    return interactions[naive_utc_times(interactions["occurred_at"]) < naive_utc(as_of)]


def _descending_key(x: np.ndarray) -> np.ndarray:
    """uint64 keys that sort ascending when float32(x) sorts descending (IEEE-754 bit trick)."""
    bits = np.asarray(x, dtype=np.float32).view(np.uint32)
    ascending = np.where(bits & np.uint32(0x80000000), ~bits, bits | np.uint32(0x80000000))
    return (~ascending).astype(np.uint64)


def _row_order(rows: np.ndarray, data: np.ndarray) -> np.ndarray:
    """Positions sorted by row, then value descending, then original position (for CSR with
    sorted indices: lower column first). One stable sort on a packed integer key: ~15x faster
    than np.lexsort on three keys at tens of millions of entries."""
    key = (rows.astype(np.uint64) << np.uint64(32)) | _descending_key(data)
    return np.argsort(key, kind="stable")


def top_k_per_row(m: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the k largest entries of each row (ties: lower column index first), vectorized."""
    m = m.tocsr()
    m.sum_duplicates()
    if m.nnz == 0:
        return m
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = _row_order(rows, m.data)
    pos = np.arange(m.nnz) - m.indptr[rows[order]]
    keep = np.sort(order[pos < k])
    return sp.csr_matrix((m.data[keep], (rows[keep], m.indices[keep])), shape=m.shape)


def _customer_item_matrix(
    interactions: pd.DataFrame, item_ids: np.ndarray, weights: dict[str, float], customers
):
    kind = interactions["interaction"].astype(str).str.lower()
    w = kind.map(weights).fillna(0.0).to_numpy(dtype=float)
    items = pd.Index(item_ids).get_indexer(interactions["product_id"].astype(str))
    cust = pd.Index(customers).get_indexer(interactions[KEY].astype(str))
    ok = (w > 0) & (items >= 0) & (cust >= 0)
    m = sp.csr_matrix((w[ok], (cust[ok], items[ok])), shape=(len(customers), len(item_ids)))
    m.sum_duplicates()
    m.data = np.log1p(m.data)
    bought = (kind == "purchase").to_numpy() & ok
    p = sp.csr_matrix(
        (np.ones(bought.sum()), (cust[bought], items[bought])), shape=(len(customers), len(item_ids))
    )
    p.sum_duplicates()
    p.data[:] = 1.0
    return m, p


def fit_item_cf(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    *,
    as_of=None,
    weights: dict[str, float] | None = None,
    n_neighbours: int = 50,
    popularity_days: int = 90,
) -> ItemCFModel:
    """Item-item cosine similarity from interactions strictly before `as_of` (all if None)."""
    weights = dict(INTERACTION_WEIGHTS if weights is None else weights)
    inter = _until(interactions, as_of)
    catalog = products.assign(product_id=products["product_id"].astype(str))
    item_ids = np.array(
        sorted(set(catalog["product_id"]) | set(inter["product_id"].astype(str).unique())), dtype=object
    )
    active = catalog.drop_duplicates("product_id", keep="last").set_index("product_id")["active"]
    recommendable = pd.Series(item_ids).map(active.astype("boolean")).fillna(False).to_numpy(dtype=bool)
    customers = np.sort(inter[KEY].astype(str).unique())
    W, _ = _customer_item_matrix(inter, item_ids, weights, customers)

    norms = np.sqrt(np.asarray(W.multiply(W).sum(axis=0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    Wn = (W @ sp.diags(inv)).tocsc()
    S = (Wn.T @ Wn).tocsr()
    S.setdiag(0.0)
    S = S @ sp.diags(recommendable.astype(float))
    S.eliminate_zeros()
    S = top_k_per_row(S, n_neighbours)

    end = naive_utc(as_of) if as_of is not None else naive_utc_times(inter["occurred_at"]).max()
    recent = inter[
        (inter["interaction"].astype(str).str.lower() == "purchase")
        & (naive_utc_times(inter["occurred_at"]) >= end - pd.Timedelta(days=popularity_days))
    ]
    pop = _popularity(
        recent if len(recent) else inter[inter["interaction"].astype(str).str.lower() == "purchase"], item_ids
    )
    pop = np.where(recommendable, pop, 0.0)
    return ItemCFModel(
        item_ids=item_ids,
        similarity=S.astype(np.float32),
        recommendable=recommendable,
        popularity=pop,
        weights=weights,
        n_neighbours=n_neighbours,
        trained_until=str(end),
        n_customers=len(customers),
        n_interactions=len(inter),
    )


def _popularity(purchases: pd.DataFrame, item_ids: np.ndarray) -> np.ndarray:
    pairs = purchases[[KEY, "product_id"]].astype(str).drop_duplicates()
    idx = pd.Index(item_ids).get_indexer(pairs["product_id"])
    counts = np.bincount(idx[idx >= 0], minlength=len(item_ids)).astype(float)
    return counts / counts.max() if counts.max() > 0 else counts


def recommend(
    model: ItemCFModel,
    interactions: pd.DataFrame,
    *,
    n: int = 10,
    customers=None,
    as_of=None,
    use_cf: bool = True,
    chunk_size: int = 20_000,
) -> pd.DataFrame:
    """Top-n products per customer: (customer_key, rank, product_id, score, source).

    Customers default to everyone in `interactions`; pass `customers` (e.g. every customer_key
    of the latest features) to give cold customers popular items. Already-bought and inactive
    products are never recommended. `use_cf=False` gives the popularity baseline.
    """
    inter = _until(interactions, as_of)
    if customers is None:
        keys = np.sort(inter[KEY].astype(str).unique())
    else:
        keys = np.sort(pd.unique(pd.Series(customers).astype(str).to_numpy()))
    W, P = _customer_item_matrix(inter, model.item_ids, model.weights, keys)
    S = model.similarity.astype(np.float64)
    pop_order = np.lexsort((model.item_ids.astype(str), -model.popularity))
    pop_order = pop_order[model.recommendable[pop_order]][: n + 50]
    parts = []
    for start in range(0, len(keys), chunk_size):
        stop = min(start + chunk_size, len(keys))
        parts.append(_recommend_chunk(model, W[start:stop], P[start:stop], S, pop_order, n, use_cf, start))
    rows = np.concatenate([p[0] for p in parts])
    items = np.concatenate([p[1] for p in parts])
    scores = np.concatenate([p[2] for p in parts])
    ranks = np.concatenate([p[3] for p in parts])
    cf = np.concatenate([p[4] for p in parts])
    order = np.argsort((rows.astype(np.uint64) << np.uint64(16)) | ranks.astype(np.uint64), kind="stable")
    return pd.DataFrame(
        {
            KEY: pd.array(keys[rows[order]], dtype="str"),
            "rank": ranks[order].astype(np.int64),
            "product_id": pd.array(model.item_ids[items[order]], dtype="str"),
            "score": scores[order],
            "source": pd.array(np.where(cf[order], "item_cf", "popularity"), dtype="str"),
        }
    )


def _recommend_chunk(model, W, P, S, pop_order, n, use_cf, offset):
    m = W.shape[0]
    if use_cf and S.nnz:
        R = (W @ S).tocsr()
        R = R - R.multiply(P)
        R.eliminate_zeros()
        R.data[R.data < 0] = 0
        R.eliminate_zeros()
        R = top_k_per_row(R, n)
    else:
        R = sp.csr_matrix((m, W.shape[1]))
    r_rows = np.repeat(np.arange(m), np.diff(R.indptr))
    order = _row_order(r_rows, R.data)
    r_rows, r_items, r_scores = r_rows[order], R.indices[order], R.data[order]
    r_rank = np.arange(len(r_rows)) - R.indptr[r_rows] + 1
    n_cf = np.diff(R.indptr)

    excluded = P[:, pop_order].toarray() > 0
    if R.nnz:
        excluded |= R[:, pop_order].toarray() > 0
    ok = ~excluded
    cum = np.cumsum(ok, axis=1)
    take = ok & (cum <= (n - n_cf)[:, None])
    f_rows, f_col = np.nonzero(take)
    f_items = pop_order[f_col]
    f_rank = n_cf[f_rows] + cum[f_rows, f_col]
    return (
        np.r_[r_rows, f_rows] + offset,
        np.r_[r_items, f_items],
        np.r_[r_scores, model.popularity[f_items]],
        np.r_[r_rank, f_rank],
        np.r_[np.ones(len(r_rows), bool), np.zeros(len(f_rows), bool)],
    )


def _holdout(interactions: pd.DataFrame, split: pd.Timestamp, test_days: int, max_customers: int, seed: int):
    """Training interactions before the split, and each warm customer's NEW purchases after it."""
    at = naive_utc_times(interactions["occurred_at"])
    kind = interactions["interaction"].astype(str).str.lower()
    train = interactions[at < split]
    window = (at >= split) & (at < split + pd.Timedelta(days=test_days)) & (kind == "purchase")
    test = interactions.loc[window, [KEY, "product_id"]].astype(str)
    before = train.loc[kind[at < split] == "purchase", [KEY, "product_id"]].astype(str).drop_duplicates()
    test = test.merge(before.assign(_old=True), on=[KEY, "product_id"], how="left")
    test = test[test["_old"].isna()].drop(columns="_old").drop_duplicates()
    test = test[test[KEY].isin(set(train[KEY].astype(str).unique()))]
    custs = np.sort(test[KEY].unique())
    if len(custs) > max_customers:
        custs = np.sort(np.random.default_rng(seed).choice(custs, max_customers, replace=False))
    return train, test[test[KEY].isin(set(custs))], custs


def hit_rate(
    model: ItemCFModel,
    interactions: pd.DataFrame,
    *,
    split_at,
    n: int = 10,
    test_days: int = 30,
    use_cf: bool = True,
    max_test_customers: int = 50_000,
    random_state: int = 42,
) -> dict:
    """Hit rate, precision and recall @n of `model` for customers who newly bought something in
    [split_at, split_at + test_days); the model should have been trained before split_at."""
    split = naive_utc(split_at)
    train, test, custs = _holdout(interactions, split, test_days, max_test_customers, random_state)
    recs = recommend(model, train, n=n, customers=custs, use_cf=use_cf)
    hits = recs.merge(test, on=[KEY, "product_id"])
    return {
        "hit_rate": float(hits[KEY].nunique() / max(len(custs), 1)),
        "precision": float(len(hits) / max(len(recs), 1)),
        "recall": float(len(hits) / max(len(test), 1)),
        "n_test_customers": len(custs),
    }


def evaluate_hit_rate(
    interactions: pd.DataFrame,
    products: pd.DataFrame,
    *,
    split_at,
    n: int = 10,
    test_days: int = 30,
    n_neighbours: int = 50,
    max_test_customers: int = 50_000,
    random_state: int = 42,
) -> dict:
    """Train on interactions before `split_at`; a hit is a customer whose top-n contains an item
    they newly bought in [split_at, split_at + test_days). Item CF (with popularity fill) vs the
    popularity-only baseline, on the same customers (at most `max_test_customers`, seeded)."""
    split = naive_utc(split_at)
    model = fit_item_cf(interactions, products, as_of=split, n_neighbours=n_neighbours)
    out: dict = {"split_at": str(split), "n": n, "test_days": test_days}
    for name, use_cf in (("item_cf", True), ("popularity", False)):
        res = hit_rate(
            model,
            interactions,
            split_at=split,
            n=n,
            test_days=test_days,
            use_cf=use_cf,
            max_test_customers=max_test_customers,
            random_state=random_state,
        )
        out["n_test_customers"] = res.pop("n_test_customers")
        out.update({f"{k}_{name}": v for k, v in res.items()})
    pop = out["hit_rate_popularity"]
    out["lift_over_popularity"] = out["hit_rate_item_cf"] / pop if pop else None
    return out
