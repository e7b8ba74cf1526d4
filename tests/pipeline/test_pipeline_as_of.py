"""as_of reaches dbt in the forms a user types it (`make dev` exports AW_AS_OF with a `Z`; `now`), a
plain dbt invocation keeps the warehouse's as_of, the membership history only moves forward, and
`make run` refuses an unreadable as_of or a locked warehouse before any step."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from tests.dbt_cli import own_target_path, run_dbt


def _as_of_seen_by_dbt(tmp_path, monkeypatch, **how: str) -> subprocess.CompletedProcess:
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    arguments = ["show", "--inline", "select '{{ as_of_text() }}' as as_of", "--output", "json"]
    arguments += ["--log-format", "json"]
    if "env" in how:
        monkeypatch.setenv("AW_AS_OF", how["env"])
    if "var" in how:
        arguments += ["--vars", json.dumps({"as_of": how["var"]})]
    return run_dbt(*arguments, target_path=own_target_path(tmp_path))


def _preview(completed: subprocess.CompletedProcess) -> str:
    for line in completed.stdout.splitlines():
        event = json.loads(line)
        if event["info"]["name"] == "ShowNode":
            return json.loads(event["data"]["preview"])[0]["as_of"]
    raise AssertionError(completed.stdout[-3000:])


@pytest.mark.parametrize(
    "how",
    [
        {"env": "2026-06-30T00:00:00Z"},
        {"env": "2026-06-30T02:00:00+02:00"},
        {"var": "2026-06-29T20:00:00-04:00", "env": "2001-01-01"},
    ],
    ids=["env-utc", "env-offset", "var-wins-over-env"],
)
def test_as_of_with_a_time_zone_is_read_as_utc(tmp_path, monkeypatch, how):
    completed = _as_of_seen_by_dbt(tmp_path, monkeypatch, **how)
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert _preview(completed) == "2026-06-30 00:00:00"


def test_an_unreadable_as_of_is_a_clear_error(tmp_path, monkeypatch):
    completed = _as_of_seen_by_dbt(tmp_path, monkeypatch, env="June")
    assert completed.returncode != 0
    assert "as_of must be an ISO date or date-time" in completed.stdout


def _dbt(
    project_warehouse: Path, *arguments: str, env_as_of: str | None = None
) -> subprocess.CompletedProcess:
    return run_dbt(
        *arguments,
        target_path=own_target_path(project_warehouse.parent),
        env={"AW_WAREHOUSE_PATH": str(project_warehouse), "AW_AS_OF": env_as_of},
    )


def test_now_is_the_wall_clock(tmp_path, monkeypatch):
    completed = _as_of_seen_by_dbt(tmp_path, monkeypatch, env="now")
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert _preview(completed)[:4] == str(datetime.now(UTC).year)


def test_a_plain_dbt_invocation_keeps_the_warehouse_as_of(demo_run, tmp_path):
    """An analyst's `dbt build` without an as_of uses the as_of of the warehouse's last successful
    run, never a fresh "now" per invocation."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, warehouse)
    built = _dbt(warehouse, "build", "-s", "customer_rfm")
    assert built.returncode == 0, built.stdout[-3000:]
    assert "as_of 2026-06-30 00:00:00 UTC (from the warehouse's last successful run)" in built.stdout
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select distinct as_of from marts.customer_rfm").fetchall() == [
            (datetime(2026, 6, 30),)
        ]
        source = con.execute(
            "select as_of_source, succeeded from audit.run_context order by started_at desc limit 1"
        ).fetchone()
    assert source == ("the warehouse's last successful run", True)


def test_the_membership_history_refuses_an_earlier_as_of_until_rewound(demo_run, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, warehouse)
    earlier = _dbt(warehouse, "build", "-s", "segment_membership_history", env_as_of="2026-06-01")
    assert earlier.returncode != 0
    assert "already records segment membership up to as_of 2026-06-30 00:00:00" in earlier.stdout
    assert "rewind_membership_history" in earlier.stdout
    rewound = _dbt(warehouse, "run-operation", "rewind_membership_history", "--args", "{to: 2026-06-01}")
    assert rewound.returncode == 0, rewound.stdout[-3000:]
    again = _dbt(warehouse, "build", "-s", "segment_membership_history", env_as_of="2026-06-01")
    assert again.returncode == 0, again.stdout[-3000:]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(
            "select max(last_evaluated_at) from marts.segment_membership_history"
        ).fetchone() == (datetime(2026, 6, 1),)


def test_make_run_checks_as_of_and_the_warehouse_lock_before_any_step(tmp_path, monkeypatch):
    monkeypatch.setenv("AW_LANDING_DIR", str(tmp_path))
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    run = [sys.executable, "-m", "orchestration.run_pipeline"]
    started = time.monotonic()
    bad = subprocess.run([*run, "--as-of", "June"], capture_output=True, text=True, check=False, timeout=120)
    assert bad.returncode == 2 and "cannot start: as_of must be an ISO date" in bad.stderr
    hold = (
        f"import duckdb, time; held = duckdb.connect({str(tmp_path / 'warehouse.duckdb')!r}); "
        "print('ready', flush=True); time.sleep(120)"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        locked = subprocess.run([*run, "--as-of", "2026-06-30"], capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
    assert locked.returncode == 2
    assert f"is locked by process {holder.pid}" in locked.stderr
    assert time.monotonic() - started < 120, "refused before loading the pipeline"
