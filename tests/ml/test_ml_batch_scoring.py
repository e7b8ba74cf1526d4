"""Scoring in bounded batches (ml.batch_scoring) against a real DuckDB file: whatever the batch size,
ml.customer_scores and ml.score_drift are exactly what scoring everyone at once writes (the step
before batching: ml.champion.score_customers on whole frames, written as replace_tables does), and a
failure half-way leaves the tables as they were."""

from dataclasses import replace

import duckdb
import pandas as pd
import pytest

from ml.batch_scoring import (
    BATCH_ROWS_ENV,
    DEFAULT_BATCH_ROWS,
    latest_features_sql,
    scoring_batch_rows,
    transactions_sql,
    write_customer_clusters,
    write_customer_scores,
)
from ml.btyd import METHOD_NONE
from ml.champion import NoChampionError, score_clusters, score_customers
from ml.lifecycle import ModelRegistry
from ml.synthetic import make_synthetic
from ml.synthetic_champions import train_synthetic_champions
from warehouse.batches import batch_session

FEATURES = "marts.customer_features"
TRANSACTIONS = "marts.ml_transactions"


@pytest.fixture(scope="module")
def scored_world(tmp_path_factory, lean_propensity, lean_clustering):
    """A warehouse with features at several cutoffs and transactions, one customer with
    transactions but no feature row before every key and one after, and trained champions."""
    root = tmp_path_factory.mktemp("batches")
    data = make_synthetic(400, seed=5, n_products=50)
    registry = ModelRegistry(root / "models")
    config = replace(lean_propensity, candidates=("logistic_regression",))
    train_synthetic_champions(data, registry, config, with_clustering=True, clustering=lean_clustering)
    first = data.transactions.iloc[[0, 1]].copy()
    strays = pd.concat(
        [first.assign(customer_key="!before-every-key"), first.assign(customer_key="~after-every-key")]
    )
    transactions = pd.concat([data.transactions, strays], ignore_index=True)
    warehouse = root / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.register("features", data.customer_features)
        con.execute(f"create table {FEATURES} as select * from features")
        con.register("transactions", transactions[["customer_key", "ordered_at", "revenue"]])
        con.execute(f"create table {TRANSACTIONS} as select * from transactions")
    return warehouse, registry, data.as_of


def _score_whole(warehouse, registry, as_of) -> None:
    """The step as it was: every feature row and transaction read whole, written in one go."""
    with duckdb.connect(str(warehouse)) as con:
        features = con.execute(f"select * from {FEATURES}").df()
        transactions = con.execute(f"select customer_key, ordered_at, revenue from {TRANSACTIONS}").df()
        tables = score_customers(features, transactions, registry, as_of=as_of)
        con.execute("create schema if not exists whole")
        for name, table in (("customer_scores", tables["customer_scores"]), ("score_drift", tables["drift"])):
            con.register("incoming", table)
            con.execute(f"create or replace table whole.{name} as select * from incoming")
            con.unregister("incoming")


def _score_in_batches(warehouse, registry, as_of, rows: int, transactions_between=None):
    """The step as the Dagster asset wires it."""
    with batch_session("ml", warehouse) as session:

        def between(after, up_to):
            return session.frame(*transactions_sql(TRANSACTIONS, after, up_to))

        return write_customer_scores(
            session.frames(latest_features_sql(FEATURES), rows=rows),
            transactions_between or between,
            registry,
            session,
            as_of=as_of,
        )


def _table(warehouse, name: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(f"select * from {name}").df()


def _tables(warehouse, schema: str) -> dict[str, pd.DataFrame]:
    return {name: _table(warehouse, f"{schema}.{name}") for name in ("customer_scores", "score_drift")}


@pytest.mark.parametrize("rows", [7, 100_000])
def test_batches_of_any_size_write_what_scoring_everyone_at_once_wrote(scored_world, rows):
    warehouse, registry, as_of = scored_world
    _score_whole(warehouse, registry, as_of)
    batched = _score_in_batches(warehouse, registry, as_of, rows)
    whole, written = _tables(warehouse, "whole"), _tables(warehouse, "ml")
    for name in ("customer_scores", "score_drift"):
        pd.testing.assert_frame_equal(written[name], whole[name], check_exact=True)
    scores = written["customer_scores"]
    assert batched.rows == len(scores)
    strays = scores.set_index("customer_key").loc[["!before-every-key", "~after-every-key"]]
    assert strays["purchase_propensity"].isna().all() and strays["propensity_decile"].isna().all()
    assert (strays["clv_method"] != METHOD_NONE).all()
    assert set(scores["propensity_decile"].dropna()) == set(range(1, 11))
    pd.testing.assert_frame_equal(batched.drift, whole["score_drift"], check_exact=True, check_dtype=False)
    assert batched.summary["mean_purchase_propensity"] == pytest.approx(scores["purchase_propensity"].mean())
    assert batched.summary["clv_methods"] == scores["clv_method"].value_counts().to_dict()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select count(*) from duckdb_tables() where table_name like '%staging%'"
        ).fetchone() == (0,)


@pytest.mark.parametrize("rows", [7, 100_000])
def test_clusters_in_batches_are_those_of_everyone_at_once(scored_world, rows):
    """Cluster and profile exactly; the distance to the centre within 1e-12 (relative): the
    champion's PCA projects with BLAS, whose sums may differ in the last bit with the rows' count."""
    warehouse, registry, _ = scored_world
    with duckdb.connect(str(warehouse), read_only=True) as con:
        whole = score_clusters(con.execute(f"select * from {FEATURES}").df(), registry)
    with batch_session("ml", warehouse) as session:
        batches = session.frames(latest_features_sql(FEATURES), rows=rows)
        batched = write_customer_clusters(batches, registry, session)
    clusters = _table(warehouse, "ml.customer_clusters")
    expected = whole["customer_clusters"]
    assert batched.rows == len(expected) == len(clusters)
    pd.testing.assert_frame_equal(
        clusters.drop(columns="distance_to_centre"),
        expected.drop(columns="distance_to_centre"),
        check_dtype=False,
        check_exact=True,
    )
    pd.testing.assert_series_equal(
        clusters["distance_to_centre"], expected["distance_to_centre"], check_exact=False, rtol=1e-12
    )
    profiles = _table(warehouse, "ml.cluster_profiles")
    pd.testing.assert_frame_equal(profiles, batched.cluster_profiles, check_dtype=False, check_exact=True)
    pd.testing.assert_frame_equal(batched.cluster_profiles, whole["cluster_profiles"], check_exact=True)
    assert batched.sizes == expected["cluster_name"].value_counts().to_dict()


def test_a_failure_half_way_leaves_the_tables_as_they_were(scored_world):
    warehouse, registry, as_of = scored_world
    _score_in_batches(warehouse, registry, as_of, 50)
    before = _tables(warehouse, "ml")
    calls = []

    def failing(after, up_to):
        calls.append(up_to)
        if len(calls) == 3:
            raise RuntimeError("the warehouse went away")
        return pd.DataFrame({"customer_key": [], "ordered_at": pd.to_datetime([]), "revenue": []})

    with pytest.raises(RuntimeError, match="went away"):
        _score_in_batches(warehouse, registry, as_of, 50, transactions_between=failing)
    after = _tables(warehouse, "ml")
    for name in before:
        pd.testing.assert_frame_equal(after[name], before[name], check_exact=True)


def test_no_champion_fails_before_anything_is_written(tmp_path, scored_world):
    warehouse, _, as_of = scored_world
    with pytest.raises(NoChampionError):
        _score_in_batches(warehouse, ModelRegistry(tmp_path / "empty"), as_of, 7)


def test_the_batch_size_is_a_positive_setting(monkeypatch):
    monkeypatch.delenv(BATCH_ROWS_ENV, raising=False)
    assert scoring_batch_rows() == DEFAULT_BATCH_ROWS
    monkeypatch.setenv(BATCH_ROWS_ENV, "250")
    assert scoring_batch_rows() == 250
    for wrong in ("0", "-3", "many"):
        monkeypatch.setenv(BATCH_ROWS_ENV, wrong)
        with pytest.raises(ValueError, match=BATCH_ROWS_ENV):
            scoring_batch_rows()
