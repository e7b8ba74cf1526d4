"""Shared fixtures for ml/ tests: small synthetic contract frames, lean configs."""

import pytest
from threadpoolctl import threadpool_limits

from ml.clustering import ClusteringConfig
from ml.propensity import PropensityConfig
from ml.synthetic import make_synthetic


@pytest.fixture(scope="session", autouse=True)
def _one_thread_per_library():
    """OpenMP/BLAS thread pools busy-wait; on a shared 2-core runner one thread is faster and
    results do not depend on the thread count."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def data():
    return make_synthetic(3000, seed=11, n_products=200)


@pytest.fixture(scope="session")
def lean_clustering():
    return ClusteringConfig(k_values=(3, 4, 5, 6), eval_sample=1200, selection_sample=3000, n_bootstrap=3)


@pytest.fixture(scope="session")
def lean_propensity():
    return PropensityConfig(
        n_folds=2, rf_trees=30, hgb_max_iter=60, importance_rows=800, importance_repeats=1, n_jobs=1
    )
