"""The run context's helpers: as_of parsing, where each warehouse publishes, which pool it takes,
the preflight that refuses a run before any step, and the engine settings every connection gets."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from tests.dbt_cli import run_dbt
from warehouse.context import (
    AsOfError,
    connect,
    engine_settings,
    parse_as_of,
    preflight,
    published_path,
    resolve_path,
    warehouse_pool,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-06-30", datetime(2026, 6, 30)),
        ("2026-06-30T00:00:00Z", datetime(2026, 6, 30)),
        ("2026-06-30T02:00:00+02:00", datetime(2026, 6, 30)),
        ("2026-06-29 20:00:00-04:00", datetime(2026, 6, 30)),
        (" 2026-06-30T12:34:56.789 ", datetime(2026, 6, 30, 12, 34, 56)),
    ],
)
def test_an_as_of_in_any_accepted_form_is_naive_utc_to_the_second(text, expected):
    assert parse_as_of(text) == expected


def test_now_is_the_clock_given():
    assert parse_as_of("NOW", now=datetime(2026, 11, 30, 8, 1, 2, 999)) == datetime(2026, 11, 30, 8, 1, 2)


@pytest.mark.parametrize("text", ["June", "", "30/06/2026", "2026-13-01"])
def test_an_unreadable_as_of_says_which_forms_are_accepted(text):
    with pytest.raises(AsOfError, match="ISO date or date-time"):
        parse_as_of(text)


def test_each_warehouse_publishes_beside_itself_unless_told_otherwise(monkeypatch, tmp_path):
    monkeypatch.delenv("AW_PUBLISHED_PATH", raising=False)
    demo = tmp_path / "data" / "warehouse.duckdb"
    example = tmp_path / "data" / "examples" / "online_retail" / "warehouse.duckdb"
    assert published_path(demo) == tmp_path / "data" / "published" / "warehouse.duckdb"
    assert published_path(example) == example.parent / "published" / "warehouse.duckdb"
    monkeypatch.setenv("AW_PUBLISHED_PATH", "elsewhere/bi.duckdb")
    assert published_path(demo) == resolve_path("elsewhere/bi.duckdb")


def test_two_warehouse_files_take_two_pools_and_one_file_always_the_same(tmp_path):
    first, second = tmp_path / "a" / "warehouse.duckdb", tmp_path / "b" / "warehouse.duckdb"
    assert warehouse_pool(first) != warehouse_pool(second)
    assert warehouse_pool(first) == warehouse_pool(Path(str(first)))
    assert warehouse_pool(first).startswith("duckdb-warehouse-")


def test_preflight_names_every_problem_before_a_run(tmp_path):
    problems = preflight("June", tmp_path / "warehouse.duckdb", tmp_path / "missing")
    assert len(problems) == 2
    assert "as_of must be an ISO date" in problems[0]
    assert "landing folder" in problems[1] and "missing" in problems[1]
    assert preflight("2026-06-30", tmp_path / "warehouse.duckdb", tmp_path) == []


def test_engine_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("AW_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("AW_DUCKDB_THREADS", "1")
    monkeypatch.setenv("AW_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))
    with connect(tmp_path / "warehouse.duckdb") as con:
        memory, threads, temp = con.execute(
            "select current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('temp_directory')"
        ).fetchone()
    assert (memory, threads, temp) == ("953.6 MiB", 1, str(tmp_path / "spill"))


def test_engine_defaults_fit_the_machine(monkeypatch, tmp_path):
    for name in ("AW_DUCKDB_MEMORY_LIMIT", "AW_DUCKDB_THREADS", "AW_DUCKDB_TEMP_DIR"):
        monkeypatch.delenv(name, raising=False)
    settings = engine_settings(tmp_path / "warehouse.duckdb")
    threads = len(os.sched_getaffinity(0))
    half = psutil.virtual_memory().total / 2 / 2**20
    assert abs(int(settings["memory_limit"].removesuffix("MB")) - min(half, 2048 * threads)) <= 1
    assert int(settings["threads"]) == threads
    assert settings["temp_directory"] == str(tmp_path / "warehouse.duckdb.tmp")


def test_the_default_memory_is_two_gigabytes_a_thread_within_half_the_machine(monkeypatch):
    monkeypatch.delenv("AW_DUCKDB_MEMORY_LIMIT", raising=False)
    monkeypatch.setattr(psutil, "virtual_memory", lambda: SimpleNamespace(total=64 * 2**30))
    monkeypatch.setenv("AW_DUCKDB_THREADS", "2")
    assert engine_settings()["memory_limit"] == "4096MB"
    monkeypatch.setenv("AW_DUCKDB_THREADS", "64")
    assert engine_settings()["memory_limit"] == f"{32 * 1024}MB"


@pytest.mark.parametrize("threads", ["0", "two", "-1"])
def test_a_thread_count_that_is_not_a_whole_number_is_refused(monkeypatch, threads):
    monkeypatch.setenv("AW_DUCKDB_THREADS", threads)
    with pytest.raises(ValueError, match="AW_DUCKDB_THREADS"):
        engine_settings()


@pytest.mark.slow
def test_dbt_connections_take_the_same_engine_settings(tmp_path):
    """The profile's plugin (warehouse/dbt_engine.py) applies engine_settings() to dbt's connection."""
    env = {
        "AW_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
        "AW_DUCKDB_MEMORY_LIMIT": "1GB",
        "AW_DUCKDB_THREADS": "1",
        "AW_DUCKDB_TEMP_DIR": str(tmp_path / "spill"),
    }
    query = (
        "select current_setting('memory_limit') || '|' || current_setting('threads') || '|' "
        "|| current_setting('temp_directory') as engine"
    )
    shown = run_dbt(
        "show",
        "--inline",
        query,
        "--output",
        "json",
        "--log-format",
        "text",
        target_path=tmp_path / "target",
        env=env,
    )
    assert shown.returncode == 0, shown.stdout[-2000:]
    assert f"953.6 MiB|1|{tmp_path / 'spill'}" in shown.stdout
