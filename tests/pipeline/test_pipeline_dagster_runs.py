"""The pipeline as the data engineer runs it from Dagster: through a persistent instance with the
project's concurrency settings and the multiprocess executor, where steps of a run (and of runs side
by side) really execute at the same time. `make run` executes in process, one step after the other,
so it cannot show a lock conflict or a pool that is too wide.

The session's demo run is such a run of full_pipeline (tests/pipeline/conftest.py). Here two
daily_refresh runs start together on two copies of its warehouse: one at the same as_of (it must
reproduce the demo's tables exactly: every step is idempotent) and one fourteen days later (the
membership history must record who entered and left)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg
import duckdb
import pandas as pd
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
from tests.pipeline.helpers import table_fingerprints

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

RUN_TIMEOUT_SECONDS = 1500
ESP_DESTINATIONS = ("mailchimp", "klaviyo", "hubspot")
REBUILT_SCHEMAS = ("staging", "intermediate", "marts", "segments", "audit")
LATER_AS_OF = (datetime.fromisoformat(AS_OF) + timedelta(days=14)).isoformat()


@dataclass(frozen=True)
class SideBySideRuns:
    home: str
    again: Workspace
    later: Workspace
    again_run_id: str
    later_run_id: str
    launched_at: datetime  # naive UTC, as the snapshot and the sync log record times

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.local_temp(self.home)


@pytest.fixture(scope="module")
def side_by_side(demo_run, tmp_path_factory) -> SideBySideRuns:
    root = tmp_path_factory.mktemp("dagster_runs")
    home = dagster_home(root / "dagster_home")
    demo = Workspace(demo_run.root, demo_run.landing)
    again = copy_workspace(demo, root / "again")
    later = copy_workspace(demo, root / "later", as_of=LATER_AS_OF)
    launched_at = datetime.now(UTC).replace(tzinfo=None)
    first = launch("daily_refresh", again, home)
    second = launch("daily_refresh", later, home)
    return SideBySideRuns(
        str(home),
        again,
        later,
        first.wait(RUN_TIMEOUT_SECONDS),
        second.wait(RUN_TIMEOUT_SECONDS),
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
    assert info["as_of"] == datetime.fromisoformat(workspace.as_of)
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


def test_full_pipeline_runs_green_one_warehouse_step_at_a_time(demo_run):
    demo = Workspace(demo_run.root, demo_run.landing)
    with demo_run.instance() as instance:
        run = instance.get_run_by_id(demo_run.run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        _assert_one_step_at_a_time_in_the_warehouse_pool(instance, run.run_id, demo.pool)
        assert {"landing_files", "dbt_core", "ml__models__propensity", "published__warehouse_snapshot"} <= {
            span.step_key for span in step_spans(instance, run.run_id)
        }
        published_at = instance.get_run_record_by_id(run.run_id).create_timestamp.replace(tzinfo=None)
    _assert_fresh_snapshot(demo, demo_run.run_id, published_at)
    for destination in ESP_DESTINATIONS:
        files = sorted((demo.exports / destination).glob("*.csv"))
        assert files, f"no {destination} audience file written"
        assert all(len(path.read_text().splitlines()) > 1 for path in files), f"an empty {destination} file"


def test_daily_refresh_scores_with_the_champions_and_publishes_again(side_by_side):
    with side_by_side.instance() as instance:
        run = instance.get_run_by_id(side_by_side.again_run_id)
        assert run.status == dg.DagsterRunStatus.SUCCESS
        _assert_one_step_at_a_time_in_the_warehouse_pool(instance, run.run_id, side_by_side.again.pool)
        steps = {span.step_key for span in step_spans(instance, run.run_id)}
    assert "score_customers" in steps
    assert not [step for step in steps if step.startswith("ml__models__")], "daily_refresh trained a model"
    _assert_fresh_snapshot(side_by_side.again, side_by_side.again_run_id, side_by_side.launched_at)
    with duckdb.connect(str(side_by_side.again.warehouse), read_only=True) as con:
        synced = {
            destination
            for (destination,) in con.execute(
                "select distinct split_part(list_key, '/', 1) from activation.sync_runs "
                "where started_at >= ? and status = 'success'",
                [side_by_side.launched_at],
            ).fetchall()
        }
    assert set(ESP_DESTINATIONS) <= synced, f"exports of this run: {sorted(synced)}"


def test_a_second_run_at_the_same_as_of_gives_the_same_tables(demo_run, side_by_side):
    assert table_fingerprints(side_by_side.again.warehouse, REBUILT_SCHEMAS) == table_fingerprints(
        demo_run.warehouse, REBUILT_SCHEMAS
    )


def test_a_later_run_records_who_entered_and_left_each_segment(demo_run, side_by_side):
    with duckdb.connect(str(side_by_side.later.warehouse), read_only=True) as con:
        history = con.execute("select * from marts.segment_membership_history").df()
        current = con.execute("select segment_name, customer_key from marts.segment_membership").df()
    later = pd.Timestamp(LATER_AS_OF)
    open_intervals = history[history.exited_at.isna()]
    assert set(zip(open_intervals.segment_name, open_intervals.customer_key, strict=True)) == set(
        zip(current.segment_name, current.customer_key, strict=True)
    )
    closed = history[history.exited_at.notna()]
    assert len(closed) > 0 and (closed.exited_at == later).all()
    assert (closed.entered_at == pd.Timestamp(demo_run.as_of)).all()
    assert len(history[history.entered_at == later]) > 0


def test_two_warehouses_have_two_pools_and_never_wait_for_each_other(side_by_side):
    """Each warehouse file has its own pool, so the two runs executed steps at the same moment;
    with one pool for both (limit 1) that could not happen. Every slot is free afterwards."""
    again, later = side_by_side.again, side_by_side.later
    assert again.pool != later.pool
    with side_by_side.instance() as instance:
        first = step_spans(instance, side_by_side.again_run_id)
        second = step_spans(instance, side_by_side.later_run_id)
        together = [(a.step_key, b.step_key) for a in first for b in second if a.overlaps(b)]
        assert together, "the two warehouses' runs never executed a step at the same time"
        for pool in (again.pool, later.pool):
            info = instance.event_log_storage.get_concurrency_info(pool)
            assert info.slot_count == 1, f"{pool} admits {info.slot_count} steps at once"
            assert not info.claimed_slots, f"{pool} still held after the runs: {info.claimed_slots}"
            assert not info.pending_steps, f"{pool} still has waiting steps: {info.pending_steps}"
