"""The batched scoring (ml.batch_scoring through warehouse.batches) on a local Spark session: the
marts as Parquet tables of Spark's catalog, batches of 7 customers, and the tables it writes equal
to ml.champion.score_customers on everyone at once, value for value. `make test-spark` runs it."""

from __future__ import annotations

import pandas as pd
import pytest

from ml.batch_scoring import latest_features_sql, transactions_sql, write_customer_scores
from ml.champion import score_customers
from ml.lifecycle import ModelRegistry
from ml.synthetic import make_synthetic
from ml.synthetic_champions import quick_propensity, train_synthetic_champions
from warehouse.batches import batch_session
from warehouse.engine import SparkEngine, arrow_of_frame, pandas_like_duckdb

pytestmark = [pytest.mark.spark, pytest.mark.timeout(1800)]


def _frame(engine: SparkEngine, sql: str) -> pd.DataFrame:
    return pandas_like_duckdb(engine.read_arrow(sql))


def test_batches_on_spark_write_what_scoring_everyone_at_once_gives(tmp_path, monkeypatch):
    monkeypatch.setenv("AW_ENGINE", "spark")
    monkeypatch.setenv("AW_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("AW_SPARK_SHUFFLE_PARTITIONS", "2")
    data = make_synthetic(150, seed=3, n_products=30)
    registry = ModelRegistry(tmp_path / "models")
    config = quick_propensity("logistic_regression", importance_rows=300)
    train_synthetic_champions(data, registry, config)
    engine = SparkEngine()  # holds the session across the calls below
    try:
        engine.write_table("marts", "customer_features", arrow_of_frame(data.customer_features))
        transactions = data.transactions[["customer_key", "ordered_at", "revenue"]]
        engine.write_table("marts", "ml_transactions", arrow_of_frame(transactions))
        expected = score_customers(
            _frame(engine, "select * from marts.customer_features"),
            _frame(engine, "select * from marts.ml_transactions"),
            registry,
            as_of=data.as_of,
        )
        with batch_session("ml") as session:

            def between(after, up_to):
                return session.frame(*transactions_sql("marts.ml_transactions", after, up_to))

            written = write_customer_scores(
                session.frames(latest_features_sql("marts.customer_features"), rows=7),
                between,
                registry,
                session,
                as_of=data.as_of,
            )
        scores = _frame(engine, "select * from ml.customer_scores order by customer_key")
        drift = _frame(engine, "select * from ml.score_drift").sort_values(["kind", "feature"])
        assert not engine.table_exists("ml", "_customer_scores_staging")
    finally:
        engine.close()
    assert written.rows == len(expected["customer_scores"])
    pd.testing.assert_frame_equal(
        scores, expected["customer_scores"], check_dtype=False, check_exact=True, check_index_type=False
    )
    expected_drift = expected["drift"].sort_values(["kind", "feature"]).reset_index(drop=True)
    drift = drift.reset_index(drop=True)
    pd.testing.assert_frame_equal(drift, expected_drift, check_dtype=False, check_exact=True)
