"""The file-arrival sensor at the first start of `make dev`: the daemon evaluates it at once, with no
cursor. Files the last successful run already processed must not start a run by themselves; a file
dropped afterwards starts exactly one."""

from __future__ import annotations

import shutil

import dagster as dg

from landing.files import landing_fingerprint
from orchestration.definitions import defs
from tests.pipeline.dagster_runs import dagster_home
from tests.pipeline.helpers import CONTACT_HEADER, contact, write_csv
from warehouse.snapshot_info import published_landing_fingerprint


def _tick(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorExecutionData:
    """One evaluation of the real sensor with the real definitions' resources, as a daemon tick."""
    sensor = defs.resolve_sensor_def("landing_files_arrived")
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=dict(defs.resources)) as context:
        return sensor.evaluate_tick(context)


def test_sensor_skips_processed_files_at_first_start_and_requests_one_run_per_arrival(
    demo_run, tmp_path, monkeypatch
):
    landing = tmp_path / "landing"
    shutil.copytree(demo_run.landing, landing)  # copy2 keeps sizes and times: the same fingerprint
    published = demo_run.root / "published" / "warehouse.duckdb"
    monkeypatch.setenv("AW_LANDING_DIR", str(landing))
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(demo_run.warehouse))
    monkeypatch.setenv("AW_PUBLISHED_PATH", str(published))
    assert published_landing_fingerprint(published) == landing_fingerprint(landing)

    with dg.DagsterInstance.local_temp(str(dagster_home(tmp_path / "dagster_home"))) as instance:
        first_start = _tick(instance, cursor=None)
        assert not first_start.run_requests
        assert "the last successful run processed" in first_start.skip_message

        quiet = _tick(instance, cursor=first_start.cursor)
        assert not quiet.run_requests

        write_csv(
            landing / "crm" / "contacts_2026-07-01.csv",
            CONTACT_HEADER,
            [contact("C-NEW-1", "new@example.com")],
        )
        arrival = _tick(instance, cursor=quiet.cursor)
        assert len(arrival.run_requests) == 1
        assert arrival.run_requests[0].run_key == f"landing-{landing_fingerprint(landing)}"

        after_arrival = _tick(instance, cursor=arrival.cursor)
        assert not after_arrival.run_requests


def test_sensor_at_first_start_requests_a_run_when_no_run_published_these_files(
    demo_run, tmp_path, monkeypatch
):
    monkeypatch.setenv("AW_LANDING_DIR", str(demo_run.landing))
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("AW_PUBLISHED_PATH", str(tmp_path / "published" / "warehouse.duckdb"))
    with dg.DagsterInstance.local_temp(str(dagster_home(tmp_path / "dagster_home"))) as instance:
        first_start = _tick(instance, cursor=None)
    assert len(first_start.run_requests) == 1


def test_web_or_order_files_alone_start_the_triggered_job_and_any_other_source_the_daily_one(
    demo_run, tmp_path, monkeypatch
):
    landing = tmp_path / "landing"
    shutil.copytree(demo_run.landing, landing)
    monkeypatch.setenv("AW_LANDING_DIR", str(landing))
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(demo_run.warehouse))
    monkeypatch.setenv("AW_PUBLISHED_PATH", str(demo_run.root / "published" / "warehouse.duckdb"))
    with dg.DagsterInstance.local_temp(str(dagster_home(tmp_path / "dagster_home"))) as instance:
        # a cursor from before per-source fingerprints (one for the whole folder) reads as empty
        first = _tick(instance, cursor=landing_fingerprint(landing))
        assert not first.run_requests and "the last successful run processed" in first.skip_message

        shutil.copy(demo_run.landing / "orders" / "orders.csv", landing / "orders" / "orders_2026-07-01.csv")
        orders_only = _tick(instance, cursor=first.cursor)
        assert [r.job_name for r in orders_only.run_requests] == ["triggered_audiences"]
        assert orders_only.run_requests[0].tags["changed_sources"] == "orders"

        write_csv(
            landing / "crm" / "contacts_2026-07-01.csv",
            CONTACT_HEADER,
            [contact("C-NEW-2", "n2@example.com")],
        )
        shutil.copy(demo_run.landing / "orders" / "orders.csv", landing / "orders" / "orders_2026-07-02.csv")
        with_consent_source = _tick(instance, cursor=orders_only.cursor)
        assert [r.job_name for r in with_consent_source.run_requests] == ["daily_refresh"]
        assert with_consent_source.run_requests[0].tags["changed_sources"] == "crm,orders"

        # the contacts are not through a daily run yet (it is queued, running or failed): new web
        # events alone must not let the triggered job run before it
        shutil.copy(demo_run.landing / "orders" / "orders.csv", landing / "orders" / "orders_2026-07-03.csv")
        consent_unprocessed = _tick(instance, cursor=with_consent_source.cursor)
        assert [r.job_name for r in consent_unprocessed.run_requests] == ["daily_refresh"]
        assert consent_unprocessed.run_requests[0].tags["changed_sources"] == "orders"
