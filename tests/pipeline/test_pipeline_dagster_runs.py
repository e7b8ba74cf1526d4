"""The pipeline as the data engineer runs it from Dagster: full_pipeline and daily_refresh through a
persistent instance with the project's concurrency settings and the multiprocess executor, where
steps of a run (and of runs side by side) really execute at the same time. `make run` executes in
process, one step after the other, so it cannot show a lock conflict or a pool that is too wide.

Both runs start together on two warehouses: a fresh one (full_pipeline, from the landing files)
and a copy of the demo run's (daily_refresh, scoring with the demo's champions)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest

from landing.files import landing_fingerprint
from tests.pipeline.dagster_runs import (
    AS_OF,
    Workspace,
    copy_workspace,
    dagster_home,
    event_messages,
    launch,
    overlapping_pairs,
    step_spans,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

RUN_TIMEOUT_SECONDS = 1500
ESP_DESTINATIONS = ("mailchimp", "klaviyo", "hubspot")


@dataclass(frozen=True)
class SideBySideRuns:
    home: str
    fresh: Workspace
    refreshed: Workspace
    full_pipeline_run_id: str
    daily_refresh_run_id: str
    launched_at: datetime  # naive UTC, as the snapshot and the sync log record times

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.local_temp(self.home)


@pytest.fixture(scope="module")
def side_by_side(demo_run, tmp_path_factory) -> SideBySideRuns:
    root = tmp_path_factory.mktemp("dagster_runs")
    home = dagster_home(root / "dagster_home")
    fresh = Workspace(root / "fresh", demo_run.landing)
    fresh.root.mkdir()
    refreshed = copy_workspace(Workspace(demo_run.root, demo_run.landing), root / "refreshed")
    launched_at = datetime.now(UTC).replace(tzinfo=None)
    full = launch("full_pipeline", fresh, home)
    daily = launch("daily_refresh", refreshed, home)
    return SideBySideRuns(
        str(home),
        fresh,
        refreshed,
        full.wait(RUN_TIMEOUT_SECONDS),
        daily.wait(RUN_TIMEOUT_SECONDS),
        launched_at,
    )


def _snapshot_info(workspace: Workspace) -> dict:
    with duckdb.connect(str(workspace.published), read_only=True) as con:
        cursor = con.execute("select * from main.snapshot_info")
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def _assert_fresh_snapshot(workspace: Workspace, run_id: str, launched_at: datetime) -> None:
    info = _snapshot_info(workspace)
    assert info["run_id"] == run_id
    assert info["published_at"] >= launched_at
    assert info["as_of"] == datetime.fromisoformat(AS_OF)
    assert info["landing_fingerprint"] == landing_fingerprint(workspace.landing)


def _assert_one_step_at_a_time_in_the_warehouse_pool(instance: dg.DagsterInstance, run_id: str, pool: str):
    spans = step_spans(instance, run_id)
    assert spans, "no step ran"
    outside = sorted(span.step_key for span in spans if span.pool != pool)
    assert not outside, f"steps outside the warehouse's pool {pool}: {outside}"
    overlaps = [(a.step_key, b.step_key) for a, b in overlapping_pairs(spans)]
    assert not overlaps, f"steps of pool {pool} ran at the same time: {overlaps}"
    conflicts = [m for m in event_messages(instance, run_id) if "Conflicting lock" in m]
    assert not conflicts, conflicts


def test_full_pipeline_runs_green_one_warehouse_step_at_a_time(side_by_side):
    with side_by_side.instance() as instance:
        run = instance.get_run_by_id(side_by_side.full_pipeline_run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        _assert_one_step_at_a_time_in_the_warehouse_pool(instance, run.run_id, side_by_side.fresh.pool)
        assert {"landing_files", "dbt_core", "ml__models__propensity", "published__warehouse_snapshot"} <= {
            span.step_key for span in step_spans(instance, run.run_id)
        }
    _assert_fresh_snapshot(side_by_side.fresh, side_by_side.full_pipeline_run_id, side_by_side.launched_at)
    for destination in ESP_DESTINATIONS:
        files = sorted((side_by_side.fresh.exports / destination).glob("*.csv"))
        assert files, f"no {destination} audience file written"
        assert all(len(path.read_text().splitlines()) > 1 for path in files), f"an empty {destination} file"


def test_daily_refresh_scores_with_the_champions_and_publishes_again(side_by_side):
    with side_by_side.instance() as instance:
        run = instance.get_run_by_id(side_by_side.daily_refresh_run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        _assert_one_step_at_a_time_in_the_warehouse_pool(instance, run.run_id, side_by_side.refreshed.pool)
        steps = {span.step_key for span in step_spans(instance, run.run_id)}
    assert "score_customers" in steps
    assert not [step for step in steps if step.startswith("ml__models__")], "daily_refresh trained a model"
    _assert_fresh_snapshot(
        side_by_side.refreshed, side_by_side.daily_refresh_run_id, side_by_side.launched_at
    )
    with duckdb.connect(str(side_by_side.refreshed.warehouse), read_only=True) as con:
        synced = {
            destination
            for (destination,) in con.execute(
                "select distinct split_part(list_key, '/', 1) from activation.sync_runs "
                "where started_at >= ? and status = 'success'",
                [side_by_side.launched_at],
            ).fetchall()
        }
    assert set(ESP_DESTINATIONS) <= synced, f"exports of this run: {sorted(synced)}"


def test_two_warehouses_have_two_pools_and_never_wait_for_each_other(side_by_side):
    """Each warehouse file has its own pool, so the two runs executed steps at the same moment;
    with one pool for both (limit 1) that could not happen. Every slot is free afterwards."""
    fresh, refreshed = side_by_side.fresh, side_by_side.refreshed
    assert fresh.pool != refreshed.pool
    with side_by_side.instance() as instance:
        full_spans = step_spans(instance, side_by_side.full_pipeline_run_id)
        daily_spans = step_spans(instance, side_by_side.daily_refresh_run_id)
        side_by_side_steps = [
            (a.step_key, b.step_key) for a in full_spans for b in daily_spans if a.overlaps(b)
        ]
        assert side_by_side_steps, "the two warehouses' runs never executed a step at the same time"
        for pool in (fresh.pool, refreshed.pool):
            info = instance.event_log_storage.get_concurrency_info(pool)
            assert info.slot_count == 1, f"{pool} admits {info.slot_count} steps at once"
            assert not info.claimed_slots, f"{pool} still held after the runs: {info.claimed_slots}"
            assert not info.pending_steps, f"{pool} still has waiting steps: {info.pending_steps}"
