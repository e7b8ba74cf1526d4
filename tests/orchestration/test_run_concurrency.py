"""One run at a time per warehouse: every job's runs carry their warehouse's pool in a tag, and the
instance settings `make dev` copies into DAGSTER_HOME admit one run per value of that tag. Without
it, a triggered run and a daily run on one warehouse interleave their steps at two as_of values."""

from __future__ import annotations

import shutil

import dagster as dg

from orchestration.automation import WAREHOUSE_TAG
from orchestration.definitions import defs
from orchestration.resources import DUCKDB_POOL
from warehouse.context import PROJECT_DIR

JOBS = ("full_pipeline", "daily_refresh", "triggered_audiences", "ml_training", "backtest")


def test_every_job_carries_its_warehouse_in_a_run_tag():
    assert {job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")} == set(JOBS)
    for name in JOBS:
        assert defs.resolve_job_def(name).tags[WAREHOUSE_TAG] == DUCKDB_POOL, name


def test_the_instance_admits_one_run_per_warehouse(tmp_path):
    shutil.copy(PROJECT_DIR / "orchestration" / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    assert {"key": WAREHOUSE_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits
