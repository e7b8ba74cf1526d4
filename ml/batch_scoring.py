"""The daily customer scoring in bounded batches: today's customers are read from the warehouse a
batch at a time (AW_SCORING_BATCH_ROWS, default 100,000), scored with the champions, and each
batch's rows written before the next is read, so no step holds every customer's features in Python.

The result is the one ml.champion.score_customers gives on everyone at once, row for row:

- propensity, churn and CLV are per customer (the champions are fitted; nothing is learned from
  today's population), so a batch is scored on its own;
- the propensity decile is a rank over all of today's customers: the batches are staged without it
  and the final table computes it in SQL (customer_scores_sql), with ml.propensity_metrics.deciles'
  rule (ordered by score, ties by customer_key);
- the BTYD columns need each customer's transactions: the batches come ordered by customer_key and
  each one reads the transactions of its key range only, (previous batch's last key, its last key],
  then a last range past the final key. The ranges cover every key once, so a customer with
  transactions but no feature row today is still scored as before. A range rather than a semi-join
  on the batch's keys: the query takes two bounds whatever the batch size, and it keeps those
  transaction-only customers;
- drift is PSI over binned counts (ml.drift.DriftCounts), added up batch by batch.

The clustering step (write_customer_clusters) is batched the same way: a customer's cluster is
its own, and the profiles' medians are taken over the few profile columns kept from each batch.

Where the rows go is the caller's (a TableSink: the warehouse in one transaction on DuckDB).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from ml.btyd import rfm_summary, score_btyd
from ml.champion import load_champion
from ml.cluster_names import TRAITS
from ml.cluster_report import PROFILE_FEATURES, cluster_profiles, customer_clusters_table
from ml.drift import DriftCounts
from ml.features import CUTOFF, KEY, latest_cutoff
from ml.lifecycle import ModelRegistry
from ml.scoring import assemble_customer_scores

BATCH_ROWS_ENV = "AW_SCORING_BATCH_ROWS"
DEFAULT_BATCH_ROWS = 100_000
STAGING = "_customer_scores_staging"
DECILE = "propensity_decile"
# what cluster_profiles reads: its features, the traits' and the buyer rule's (ml.cluster_names.is_buyer)
TRAIT_FEATURES = [column for column, _ in TRAITS.values()]
BUYER_FEATURES = ["frequency_orders", "recency_days"]
PROFILE_COLUMNS = tuple(dict.fromkeys([*PROFILE_FEATURES, *TRAIT_FEATURES, *BUYER_FEATURES]))


def scoring_batch_rows() -> int:
    """Customers per scoring batch: AW_SCORING_BATCH_ROWS, else 100,000; a clear error if not a
    positive whole number."""
    text = os.environ.get(BATCH_ROWS_ENV, "").strip()
    if not text:
        return DEFAULT_BATCH_ROWS
    try:
        rows = int(text)
    except ValueError:
        rows = 0
    if rows < 1:
        raise ValueError(f"{BATCH_ROWS_ENV} must be a positive whole number of rows, got {text!r}")
    return rows


def latest_features_sql(relation: str) -> str:
    """Today's feature rows (the latest cutoff, as ml.features.latest_cutoff picks it), by key."""
    return f"select * from {relation} where {CUTOFF} = (select max({CUTOFF}) from {relation}) order by {KEY}"


def transactions_sql(relation: str, after, up_to) -> tuple[str, list]:
    """The transactions of the customers with after < customer_key <= up_to (None: unbounded)."""
    bounds, parameters = [], []
    if after is not None:
        bounds.append(f"{KEY} > ?")
        parameters.append(after)
    if up_to is not None:
        bounds.append(f"{KEY} <= ?")
        parameters.append(up_to)
    where = f" where {' and '.join(bounds)}" if bounds else ""
    return f"select {KEY}, ordered_at, revenue from {relation}{where}", parameters


class TableSink(Protocol):
    """Tables of one schema, written by the scoring."""

    def relation(self, name: str) -> str:
        """The name to use in SQL for table `name` of the schema."""

    def write(self, name: str, frame: pd.DataFrame, *, append: bool) -> None:
        """Create or replace the table from the frame, or append the frame's rows by column name."""

    def create_as(self, name: str, select_sql: str) -> None:
        """Create or replace the table as the result of a select."""

    def drop(self, name: str) -> None:
        """Drop the table if it exists."""


def customer_scores_sql(staging: str, columns: list[str]) -> str:
    """The staged scores with their propensity decile: 1 = top 10 % of the customers with a
    propensity, ordered by score then customer_key, decile = rank x 10 // n + 1 (rank from 0), as
    ml.propensity_metrics.deciles; NULL for a customer without one. Portable SQL (DuckDB, Spark)."""
    listed = ", ".join(
        "cast(floor((ranked.score_rank - 1) * 10 / ranked.scored_customers) as bigint) + 1 as " + DECILE
        if column == DECILE
        else f"staged.{column}"
        for column in columns
    )
    return (
        f"with staged as (select * from {staging}), "
        "ranked as ("
        f"select {KEY}, row_number() over (order by purchase_propensity desc, {KEY}) as score_rank, "
        "count(*) over () as scored_customers "
        "from staged where propensity_method is not null) "
        f"select {listed} from staged left join ranked on staged.{KEY} = ranked.{KEY} "
        f"order by staged.{KEY}"
    )


@dataclass
class ScoreTally:
    """What score_summary shows, added up over the batches (its mean is a sum over the batches)."""

    propensity_sum: float = 0.0
    propensity_n: int = 0
    methods: dict[str, Counter] = field(
        default_factory=lambda: {c: Counter() for c in ("propensity_method", "churn_method", "clv_method")}
    )

    def add(self, scores: pd.DataFrame) -> None:
        p = scores["purchase_propensity"].to_numpy(dtype=float)
        ok = np.isfinite(p)
        self.propensity_sum += float(p[ok].sum())
        self.propensity_n += int(ok.sum())
        for column, counter in self.methods.items():
            counter.update(scores[column].dropna().astype(str))

    def summary(self) -> dict:
        mean = self.propensity_sum / self.propensity_n if self.propensity_n else float("nan")
        methods = {
            f"{column.removesuffix('_method')}_methods": dict(counts.most_common())
            for column, counts in self.methods.items()
        }
        return {"mean_purchase_propensity": mean, **methods}


@dataclass
class BatchScores:
    """What the batched scoring wrote: its rows, the drift table and the summary of the scores."""

    rows: int
    drift: pd.DataFrame
    summary: dict


class CustomerScorer:
    """The champions of propensity and BTYD, scoring one batch at a time and counting drift."""

    def __init__(self, registry: ModelRegistry, *, as_of, scored_at=None):
        self.propensity, meta = load_champion(registry, "propensity")
        self.btyd, _ = load_champion(registry, "btyd")
        self.versions = {
            "propensity_model_version": registry.champion_version("propensity"),
            "clv_model_version": registry.champion_version("btyd"),
        }
        self.as_of = pd.Timestamp(as_of)
        self.scored_at = scored_at if scored_at is not None else self.as_of
        self.drift = DriftCounts(meta["reference_profile"])
        self.tally = ScoreTally()

    def score(self, features: pd.DataFrame | None, transactions: pd.DataFrame) -> pd.DataFrame:
        """The customer_scores rows of one batch (no decile yet): the batch's customers, plus
        those with transactions in its key range but no feature row."""
        customers = None
        propensity = pd.DataFrame(
            {KEY: pd.array([], dtype="str"), "purchase_propensity": np.array([], dtype=float)}
        ).assign(propensity_decile=pd.array([], dtype="Int64"), propensity_method=pd.array([], dtype="str"))
        if features is not None:
            today = latest_cutoff(features)
            customers = today[KEY]
            p = self.propensity.predict_proba(today)
            propensity = pd.DataFrame(
                {
                    KEY: today[KEY].astype(str).to_numpy(),
                    "purchase_propensity": p,
                    DECILE: pd.array([pd.NA] * len(p), dtype="Int64"),
                    "propensity_method": pd.array([self.propensity.algorithm] * len(p), dtype="str"),
                }
            )
            self.drift.add(today.assign(purchase_propensity=p))
        btyd = score_btyd(self.btyd, rfm_summary(transactions, self.as_of), customers=customers)
        scores = assemble_customer_scores(
            propensity, btyd, **self.versions, scored_at=self.scored_at, customers=customers
        )
        self.tally.add(scores)
        return scores.drop(columns=[DECILE])


def write_customer_scores(
    feature_batches: Iterable[pd.DataFrame],
    transactions_between: Callable[[object, object], pd.DataFrame],
    registry: ModelRegistry,
    sink: TableSink,
    *,
    as_of,
    scored_at=None,
) -> BatchScores:
    """Score today's customers batch by batch into sink's customer_scores and score_drift.

    `feature_batches` are today's feature rows (latest_features_sql) in customer_key order, as
    the warehouse sorts it; `transactions_between(after, up_to)` gives the transactions with
    after < customer_key <= up_to (None: unbounded; transactions_sql). Raises NoChampionError
    before reading anything if a champion is missing."""
    scorer = CustomerScorer(registry, as_of=as_of, scored_at=scored_at)
    rows, last, columns = 0, None, None

    def stage(scores: pd.DataFrame) -> None:
        nonlocal rows, columns
        sink.write(STAGING, scores, append=columns is not None)
        columns = columns or list(scores.columns)
        rows += len(scores)

    for batch in feature_batches:
        if batch.empty:
            continue
        keys = batch[KEY]
        if last is not None and keys.iloc[0] == last:
            raise ValueError("customer_key is not unique within one cutoff")
        up_to = keys.iloc[-1]
        stage(scorer.score(batch, transactions_between(last, up_to)))
        last = up_to
    if last is None:
        raise ValueError("no feature rows to score: marts.customer_features has no latest cutoff")
    tail = scorer.score(None, transactions_between(last, None))
    if len(tail):
        stage(tail)
    final = list(columns)
    final.insert(final.index("purchase_propensity") + 1, DECILE)
    sink.create_as("customer_scores", customer_scores_sql(sink.relation(STAGING), final))
    sink.drop(STAGING)
    drift = scorer.drift.table()
    sink.write("score_drift", drift, append=False)
    return BatchScores(rows=rows, drift=drift, summary=scorer.tally.summary())


@dataclass
class BatchClusters:
    """What the batched clustering wrote: customer_clusters' rows, the profiles and cluster sizes."""

    rows: int
    cluster_profiles: pd.DataFrame
    sizes: dict[str, int]


def write_customer_clusters(
    feature_batches: Iterable[pd.DataFrame], registry: ModelRegistry, sink: TableSink
) -> BatchClusters:
    """customer_clusters of today's customers (latest_features_sql batches), batch by batch, and
    cluster_profiles. A customer's cluster and distance are its own; the profiles hold medians,
    which do not add up over batches, so only the profile's columns (a few numbers per customer,
    not the feature frame) are kept until the end. Raises NoChampionError before reading."""
    model, _ = load_champion(registry, "clustering")
    kept, ids, rows = [], [], 0
    for batch in feature_batches:
        if batch.empty:
            continue
        today = latest_cutoff(batch)
        cluster_ids, distances = model.predict(today)
        table = customer_clusters_table(today[KEY], cluster_ids, model.names, distances)
        sink.write("customer_clusters", table, append=rows > 0)
        rows += len(table)
        kept.append(today[[c for c in PROFILE_COLUMNS if c in today.columns]])
        ids.append(cluster_ids)
    if not rows:
        raise ValueError("no feature rows to cluster: marts.customer_features has no latest cutoff")
    everyone = pd.concat(kept, ignore_index=True)
    cluster_ids = np.concatenate(ids)
    profiles = cluster_profiles(everyone, cluster_ids, model.names)
    sink.write("cluster_profiles", profiles, append=False)
    sizes = Counter(model.names[int(i)] for i in cluster_ids)
    return BatchClusters(rows=rows, cluster_profiles=profiles, sizes=dict(sizes.most_common()))
