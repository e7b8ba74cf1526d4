"""as_of reaches dbt in the forms a user types it: `make dev` exports AW_AS_OF with a `Z`, and dbt
must parse (Dagster re-parses the project when `dagster dev` loads it) and read it as UTC."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from landing.contract import PROJECT_DIR


def _as_of_seen_by_dbt(tmp_path, monkeypatch, **how: str) -> subprocess.CompletedProcess:
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    arguments = ["show", "--inline", "select '{{ as_of_text() }}' as as_of", "--output", "json"]
    arguments += [
        "--log-format",
        "json",
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(PROJECT_DIR),
    ]
    if "env" in how:
        monkeypatch.setenv("AW_AS_OF", how["env"])
    if "var" in how:
        arguments += ["--vars", json.dumps({"as_of": how["var"]})]
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run([str(dbt), *arguments], capture_output=True, text=True, check=False)


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
