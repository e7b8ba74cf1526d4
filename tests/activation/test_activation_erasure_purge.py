"""The residue sweep on DuckDB (activation/erasure.py), on a warehouse laid out by hand: the rows of an
erased person go from every table dbt does not rebuild, their address from every free-text column
whatever its case, and a second sweep with no new tombstone changes nothing."""

from __future__ import annotations

import duckdb
import pytest

from activation.erasure import ERASED_TEXT, purge_erased_residue
from tests.activation.helpers import email_of, plant_tombstones, sql

ERASED = email_of(2)


def _warehouse_with_residue(path) -> None:
    plant_tombstones(path, [ERASED])
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE MACRO privacy.is_erased(identifier_type, raw_value) AS "
            "privacy.erasure_hash(identifier_type, lower(trim(raw_value, chr(9) || chr(32)))) "
            "IN (SELECT identifier_hash FROM privacy.erasure_tombstones)"
        )
        # As in the warehouse: the targets are a view over landed rows, which the sweep deletes.
        con.execute("CREATE SCHEMA landing")
        con.execute("CREATE TABLE landing.email__events (email VARCHAR)")
        con.execute("INSERT INTO landing.email__events VALUES (?), (?)", [ERASED.upper(), email_of(1)])
        con.execute("CREATE SCHEMA restricted")
        con.execute(
            "CREATE VIEW restricted.erasure_targets AS SELECT lower(email) AS email "
            "FROM landing.email__events WHERE privacy.is_erased('email', email)"
        )
        con.execute("CREATE SCHEMA activation")
        con.execute("CREATE TABLE activation.sync_results (member_key VARCHAR, reason VARCHAR)")
        con.execute(
            "INSERT INTO activation.sync_results VALUES (?, 'ok'), (?, ?), (?, ?)",
            [
                email_of(1),
                email_of(3),
                f"ESP refused {ERASED.upper()} and {ERASED}",
                f" {ERASED.title()}\t",
                "bounced",
            ],
        )


def test_the_sweep_removes_an_erased_address_in_any_case_and_spelling(wh):
    """The addresses to scrub are read before the landed rows that name them are deleted."""
    _warehouse_with_residue(wh)
    report = purge_erased_residue(wh, compact=False)
    assert report.skipped is None
    assert report.rows_deleted == {
        "activation.sync_results.member_key": 1,
        "landing.email__events.email": 1,
    }
    assert report.texts_scrubbed == 1
    rows = sorted(sql(wh, "SELECT member_key, reason FROM activation.sync_results"))
    assert rows == [(email_of(1), "ok"), (email_of(3), f"ESP refused {ERASED_TEXT} and {ERASED_TEXT}")]


def test_a_second_sweep_without_a_new_tombstone_changes_nothing(wh):
    _warehouse_with_residue(wh)
    purge_erased_residue(wh, compact=False)
    before = sorted(sql(wh, "SELECT * FROM activation.sync_results"))
    again = purge_erased_residue(wh, compact=False)
    assert again.skipped == "no tombstone added since the last sweep (1)"
    assert again.total_deleted == 0 and again.texts_scrubbed == 0
    assert sorted(sql(wh, "SELECT * FROM activation.sync_results")) == before


def test_a_sweep_whose_rewrite_failed_is_swept_and_rewritten_by_the_next_call(wh):
    """The sweep is logged only once the file is rewritten: a failed rewrite (here its partial file
    cannot be created) leaves no log row, so the next call does not skip the sweep."""
    _warehouse_with_residue(wh)
    blocker = wh.with_name(f".{wh.name}.compacting")
    blocker.mkdir()
    with pytest.raises(OSError):
        purge_erased_residue(wh)
    assert sql(wh, "SELECT count(*) FROM activation.erasure_purges") == [(0,)]
    assert sql(wh, "SELECT count(*) FROM activation.sync_results WHERE member_key = ?", [ERASED]) == [(0,)]
    blocker.rmdir()
    again = purge_erased_residue(wh)
    assert again.skipped is None and again.compacted and again.total_deleted == 0
    assert sql(wh, "SELECT tombstones, compacted FROM activation.erasure_purges") == [(1, True)]


def test_a_new_tombstone_rewrites_the_file_even_when_no_row_is_left_to_delete(wh):
    """dbt dropped the tables that held the person; their old pages still hold the rows."""
    _warehouse_with_residue(wh)
    with duckdb.connect(str(wh)) as con:
        con.execute("DELETE FROM landing.email__events")
        con.execute("DELETE FROM activation.sync_results")
    report = purge_erased_residue(wh)
    assert report.total_deleted == 0 and report.compacted
