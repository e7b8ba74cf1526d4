"""The warehouse resource refuses a step launched from a code location whose warehouse is not the
one its pool was named for, and lets in-process runs and sensors be (they hold no pool slot)."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from orchestration.resources import DUCKDB_POOL, WarehouseResource
from warehouse.context import warehouse_pool


def _run(launched_from_code_location: bool) -> DagsterRun:
    origin = None
    if launched_from_code_location:
        location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="orchestration.definitions"))
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), "daily_refresh")
    return DagsterRun(job_name="daily_refresh", run_id="a-run", remote_job_origin=origin)


def _setup(resource: WarehouseResource, run: DagsterRun | None) -> None:
    context = dg.InitResourceContext(
        resource_config={}, resources={}, resource_def=None, all_resource_defs={}, dagster_run=run
    )
    resource.setup_for_execution(context)


def test_a_launched_step_on_another_warehouse_is_refused_with_what_to_do(tmp_path):
    other = WarehouseResource(warehouse_path=str(tmp_path / "other.duckdb"))
    assert warehouse_pool(other.path) != DUCKDB_POOL
    with pytest.raises(dg.Failure, match="set AW_WAREHOUSE_PATH before starting Dagster"):
        _setup(other, _run(launched_from_code_location=True))


def test_a_launched_step_on_its_own_warehouse_runs(tmp_path, monkeypatch):
    own = WarehouseResource(warehouse_path=str(tmp_path / "own.duckdb"))
    monkeypatch.setattr("orchestration.resources.DUCKDB_POOL", warehouse_pool(own.path))
    _setup(own, _run(launched_from_code_location=True))


@pytest.mark.parametrize("run", [None, _run(launched_from_code_location=False)], ids=["sensor", "in_process"])
def test_steps_that_hold_no_pool_slot_may_name_any_warehouse(tmp_path, run):
    _setup(WarehouseResource(warehouse_path=str(tmp_path / "other.duckdb")), run)


def test_every_step_of_every_job_opens_the_warehouse_so_running_one_at_a_time_loses_nothing():
    """The executor runs a run's steps one at a time (orchestration/definitions.py) because the
    warehouse pool admits one anyway; a step outside the pool would be serialised for nothing, and
    the executor should then limit the pool's steps by tag instead."""
    from orchestration.definitions import STEPS_AT_A_TIME, defs

    jobs = [job for job in defs.resolve_all_job_defs() if not job.name.startswith("__")]
    outside_the_pool = {
        (job.name, node.name)
        for job in jobs
        for node in job.graph.nodes
        if node.definition.pool != DUCKDB_POOL
    }
    assert STEPS_AT_A_TIME == 1 and len(jobs) >= 4
    assert not outside_the_pool
