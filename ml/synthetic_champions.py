"""Champions trained on synthetic data (ml/synthetic.py): a model registry to score with and no
warehouse behind it, for the batch-scoring tests (DuckDB and Spark) and bench/bench_scoring.py."""

from __future__ import annotations

import pandas as pd

from ml.clustering import ClusteringConfig
from ml.features import CUTOFF, KEY
from ml.lifecycle import ModelRegistry
from ml.propensity import PropensityConfig
from ml.runner import run_btyd, run_clustering, run_propensity
from ml.synthetic import SyntheticData


def quick_propensity(candidate: str, importance_rows: int, **changes) -> PropensityConfig:
    """Propensity settings that train in seconds on synthetic data: two folds, one candidate, one
    importance repeat, one job; for tests and benchmarks that need a champion, not a good one."""
    return PropensityConfig(
        n_folds=2,
        candidates=(candidate,),
        importance_rows=importance_rows,
        importance_repeats=1,
        n_jobs=1,
        **changes,
    )


def train_synthetic_champions(
    data: SyntheticData,
    registry: ModelRegistry,
    propensity: PropensityConfig,
    *,
    with_clustering: bool = False,
    clustering: ClusteringConfig | None = None,
) -> pd.DataFrame:
    """Trains the propensity and BTYD champions (and clustering's, with its default settings
    unless `clustering` says otherwise) as the pipeline does; returns the features at data.as_of,
    one row per customer: what daily scoring reads."""
    latest = data.customer_features[data.customer_features[CUTOFF] == data.as_of]
    run_propensity(
        data.customer_features,
        data.customer_labels,
        registry,
        as_of=data.as_of,
        transactions=data.transactions,
        config=propensity,
    )
    run_btyd(data.transactions, registry, as_of=data.as_of, customers=latest[KEY])
    if with_clustering:
        run_clustering(data.customer_features, registry, config=clustering)
    return latest
