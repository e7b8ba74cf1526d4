"""The run context's pure helpers: as_of parsing, where each warehouse publishes, which pool it
takes, and the preflight that refuses a run before any step."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from warehouse.context import (
    AsOfError,
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
