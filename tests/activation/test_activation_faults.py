"""Resilience: every injected fault ends with the ESP holding exactly the audience."""

from __future__ import annotations

import time

import pytest

from activation import sync_audiences
from activation.config import ESP_NAMES
from tests.activation.helpers import (
    MEMBERSHIP_ADD,
    audience,
    email_of,
    fake_config,
    no_suppressions,
    small_batches,
    sql,
)

UPSERT = {
    "mailchimp": ("POST", r"^/3\.0/lists/[^/]+$"),
    "klaviyo": ("POST", r"^/api/profile-bulk-import-jobs$"),
    "hubspot": ("POST", r"batch/upsert$"),
}


def _assert_equal(fake, wh, esp: str, list_key: str, keys) -> None:
    expected = {email_of(k) for k in keys}
    assert fake.list_members(esp, list_key) == expected
    profiles = {
        "mailchimp": {m["email_address"] for m in fake.mc_members.values()},
        "klaviyo": set(fake.kl_profiles),
        "hubspot": set(fake.hs_by_email),
    }[esp]
    assert expected <= profiles
    rows = sql(
        wh,
        "SELECT member_key, count(*) FROM activation.sync_state WHERE destination = ? AND list_key = ? "
        "GROUP BY member_key",
        [esp, list_key],
    )
    assert {k for k, _ in rows} == expected
    assert all(n == 1 for _, n in rows)
    assert sql(wh, "SELECT count(*) FROM activation.sync_state WHERE pending")[0][0] == 0


def _sync_until_clean(desired, wh, config, attempts: int = 3):
    for _ in range(attempts):
        results = sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
        if all(r.status == "success" for r in results):
            return results
    raise AssertionError([r.line() for r in results])


@pytest.mark.parametrize("esp", ESP_NAMES)
@pytest.mark.parametrize("kind", ["429", "500", "slow", "drop"])
def test_injected_fault_ends_with_esp_equal_to_audience(fake, wh, tmp_path, esp, kind):
    config = small_batches(fake_config(fake, tmp_path / "files", **{f"AW_{esp.upper()}_TIMEOUT": "0.5"}))
    method, path = UPSERT[esp]
    if kind == "429":
        fake.inject("status", esp=esp, method=method, path=path, status=429, retry_after=0.2, after=1)
    elif kind == "500":
        fake.inject("status", esp=esp, method=method, path=path, status=500, times=2, after=1)
    elif kind == "slow":
        fake.inject("slow", esp=esp, method=method, path=path, seconds=0.8, after=1)
    else:
        fake.inject("drop", esp=esp, method=method, path=path, after=1)
    keys = range(35)
    results = _sync_until_clean(audience(esp, "vip", keys), wh, config)
    assert fake.faults[0].hit.is_set()
    assert results[0].sent == 35
    _assert_equal(fake, wh, esp, "vip", keys)
    # the next run finds nothing to do
    fake.reset_log()
    again = sync_audiences(audience(esp, "vip", keys), no_suppressions(), warehouse=wh, config=config)
    assert again[0].counts["unchanged"] == 35 and fake.request_count() == 0


def test_retry_after_is_honoured(fake, wh, config):
    fault = fake.inject("status", esp="mailchimp", method="POST", status=429, retry_after=1.0)
    started = time.monotonic()
    results = sync_audiences(
        audience("mailchimp", "vip", range(5)), no_suppressions(), warehouse=wh, config=config
    )
    elapsed = time.monotonic() - started
    assert fault.hit.is_set() and results[0].status == "success"
    assert elapsed >= 1.0
    retried = [r for r in fake.requests("mailchimp") if r.status == 429]
    assert len(retried) == 1


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_dropped_connection_after_membership_add_still_counts_as_ours(fake, wh, small_config, esp):
    """The ESP applied the add, the answer was lost, the retry finds the member already there:
    the membership is still ours, so a later removal takes it out."""
    method, path = MEMBERSHIP_ADD[esp]
    fake.inject("drop", esp=esp, method=method, path=path)
    _sync_until_clean(audience(esp, "vip", range(20)), wh, small_config)
    owned = sql(wh, "SELECT count(*) FROM activation.sync_state WHERE created_by_us")[0][0]
    assert owned == 20
    _sync_until_clean(audience(esp, "vip", range(3, 20)), wh, small_config)
    _assert_equal(fake, wh, esp, "vip", range(3, 20))


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_rows_rejected_inside_a_batch_are_reported_and_retried_next_run(fake, wh, small_config, esp):
    fake.reject(esp, [email_of(3), email_of(17)], "Invalid Resource: looks fake")
    results = sync_audiences(
        audience(esp, "vip", range(25)), no_suppressions(), warehouse=wh, config=small_config
    )
    assert results[0].status == "success"
    assert (results[0].sent, results[0].rejected, results[0].failed) == (23, 2, 0)
    rows = sql(
        wh,
        "SELECT member_key, reason FROM activation.sync_results "
        "WHERE status = 'rejected' AND action = 'create'",
    )
    assert {k for k, _ in rows} == {email_of(3), email_of(17)}
    assert all("looks fake" in reason for _, reason in rows)
    assert fake.list_members(esp, "vip") == {email_of(k) for k in range(25)} - {email_of(3), email_of(17)}
    fake.clear_faults()
    fake.reset_log()
    results = sync_audiences(
        audience(esp, "vip", range(25)), no_suppressions(), warehouse=wh, config=small_config
    )
    assert results[0].counts["creates"] == 2 and results[0].sent == 2
    _assert_equal(fake, wh, esp, "vip", range(25))


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_failed_batches_are_not_marked_synced_and_succeed_next_run(fake, wh, tmp_path, esp):
    env = {f"AW_{esp.upper()}_MAX_ATTEMPTS": "2", f"AW_{esp.upper()}_MAX_CONCURRENCY": "1"}
    config = small_batches(fake_config(fake, tmp_path / "files", **env))
    method, path = UPSERT[esp]
    fake.inject("status", esp=esp, method=method, path=path, status=503, times=2, after=1)
    first = sync_audiences(audience(esp, "vip", range(30)), no_suppressions(), warehouse=wh, config=config)
    assert first[0].status == "partial"
    assert first[0].failed == 10 and first[0].sent == 20
    failed = sql(wh, "SELECT count(*) FROM activation.sync_results WHERE status = 'failed'")[0][0]
    assert failed == 10
    second = sync_audiences(audience(esp, "vip", range(30)), no_suppressions(), warehouse=wh, config=config)
    assert second[0].status == "success" and second[0].counts["creates"] == 10
    _assert_equal(fake, wh, esp, "vip", range(30))


def test_a_destination_that_keeps_failing_stops_the_list_early(fake, wh, tmp_path):
    config = small_batches(fake_config(fake, tmp_path / "files", AW_MAILCHIMP_MAX_ATTEMPTS="1"))
    fake.inject("status", esp="mailchimp", method="POST", path=r"^/3\.0/lists/[^/]+$", status=500, times=1000)
    results = sync_audiences(
        audience("mailchimp", "vip", range(1000)), no_suppressions(), warehouse=wh, config=config
    )
    assert results[0].status == "failed"
    assert results[0].failed == 1000
    assert "stopped after" in results[0].message
    # at most the in-flight window (four times the concurrency) plus the batches that tripped it
    assert len(fake.requests("mailchimp", "POST", r"^/3\.0/lists/[^/]+$")) <= 43
    runs = sql(wh, "SELECT status, failed FROM activation.sync_runs WHERE NOT dry_run")
    assert runs == [("failed", 1000)]
    assert sql(wh, "SELECT count(*) FROM activation.sync_results WHERE status = 'failed'")[0][0] == 1000


@pytest.mark.parametrize(("esp", "cap"), [("mailchimp", 10), ("mailchimp", 3), ("hubspot", 2)])
def test_concurrency_never_exceeds_the_cap(fake, wh, tmp_path, esp, cap):
    config = small_batches(
        fake_config(fake, tmp_path / "files", **{f"AW_{esp.upper()}_MAX_CONCURRENCY": str(cap)})
    )
    fake.inject("slow", esp=esp, seconds=0.05, times=10_000)
    results = sync_audiences(audience(esp, "vip", range(400)), no_suppressions(), warehouse=wh, config=config)
    assert results[0].status == "success"
    assert 2 <= fake.max_in_flight[esp] <= cap


def test_requests_per_second_cap_spaces_requests():
    from activation.http import Throttle

    throttle = Throttle(max_concurrency=4, rps=20)
    started = time.monotonic()
    for _ in range(11):
        with throttle.slot():
            pass
    assert time.monotonic() - started >= 0.49  # 10 intervals of 50 ms after the first start
