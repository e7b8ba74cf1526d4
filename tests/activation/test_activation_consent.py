"""Consent is law: nobody without consent reaches any destination, ever."""

from __future__ import annotations

import pandas as pd
import pytest

from activation import InputError, propagate_erasures, sync_audiences
from activation.config import ESP_NAMES
from activation.routing import ESP_WIDE
from tests.activation.helpers import (
    audience,
    email_of,
    erasure_targets,
    no_suppressions,
    plant_tombstones,
    sql,
    suppressions,
)

ALL = (*ESP_NAMES, "file")


def _desired(keys) -> pd.DataFrame:
    return pd.concat([audience(d, "newsletter", keys) for d in ALL], ignore_index=True)


def _file_emails(tmp_path) -> set[str]:
    csv = pd.read_csv(tmp_path / "files" / "newsletter.csv", dtype=str)
    parquet = pd.read_parquet(tmp_path / "files" / "newsletter.parquet")
    assert set(csv["email"]) == set(parquet["email"])
    return set(csv["email"])


def _everything_sent(fake) -> set[str]:
    return fake.emails_sent()


def test_every_kind_of_non_consent_is_refused_by_every_destination(fake, wh, config, tmp_path):
    desired = _desired(range(30))
    # SQL found the address invalid (restricted.audience_export.is_email_valid)
    desired.loc[desired["customer_key"] == "c0000008", ["email", "is_email_valid"]] = ["not-an-email", False]
    desired.loc[desired["customer_key"] == "c0000011", "email"] = "  USER0000011@Example.COM "
    supp = suppressions(
        [
            (email_of(1), None, "not_opted_in"),
            (None, "c0000002", "unsubscribed"),
            (email_of(3), "c0000003", "bounced"),
            (email_of(4).upper(), None, "complained"),
            (email_of(5), "c0000005", "invalid_email"),
            (email_of(6), "c0000006", "erasure_requested"),
            (email_of(7), "c0000007", "opted_out"),
        ]
    )
    erasures = pd.DataFrame(
        {
            "request_id": ["r9", "r10"],
            "customer_key": ["c0000009", None],
            "email": [None, f" {email_of(10).upper()} "],
            "requested_at": ["2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"],
        }
    )
    results = sync_audiences(desired, supp, erasures, warehouse=wh, config=config)
    forbidden = {email_of(k) for k in (1, 2, 3, 4, 5, 6, 7, 9, 10)} | {"not-an-email"}
    allowed = {email_of(k) for k in range(30)} - forbidden - {email_of(8)}
    assert all(r.status == "success" for r in results), [r.line() for r in results]
    sent = _everything_sent(fake)
    assert not (sent & forbidden)
    for esp in ESP_NAMES:
        assert fake.list_members(esp, "newsletter") == allowed
    assert not {m["email_address"] for m in fake.mc_members.values()} & forbidden
    assert not set(fake.kl_profiles) & forbidden
    assert not set(fake.hs_by_email) & forbidden
    assert _file_emails(tmp_path) == allowed
    for result in results:
        counts = result.counts
        assert counts["rows_in"] == 30 == counts["eligible"] + counts["excluded"]
        assert counts["excluded"] == 10
        assert result.excluded_reasons == {
            "not_opted_in": 1,
            "unsubscribed": 1,
            "bounced": 1,
            "complained": 1,
            "invalid_email": 2,
            "erasure_requested": 3,
            "opted_out": 1,
        }
    rejected = sql(
        wh, "SELECT count(*) FROM activation.sync_results WHERE action = 'exclude' AND status = 'rejected'"
    )
    in_state = {r[0] for r in sql(wh, "SELECT member_key FROM activation.sync_state")}
    assert rejected[0][0] == 40
    assert not in_state & forbidden


def test_consent_withdrawn_between_runs_removes_and_never_updates_again(fake, wh, config, tmp_path):
    keys = range(50)
    assert all(r.ok for r in sync_audiences(_desired(keys), no_suppressions(), warehouse=wh, config=config))
    for esp in ESP_NAMES:
        assert email_of(3) in fake.list_members(esp, "newsletter")
    # Run 2: 3 unsubscribed (the mart lags and still lists them, with a new offer), 4 asked for
    # erasure, 5..19 dropped out of the mart because they opted out (30% of the list: the volume
    # guard must not hold back consent removals).
    desired = _desired([k for k in keys if not 5 <= k < 20])
    desired.loc[desired["customer_key"].isin(["c0000003", "c0000004"]), "offer"] = "NEW OFFER"
    supp = suppressions(
        [(email_of(3), "c0000003", "unsubscribed")]
        + [(email_of(k), f"c{k:07d}", "opted_out") for k in range(5, 20)]
    )
    erasures = pd.DataFrame({"request_id": ["e4"], "customer_key": ["c0000004"], "email": [email_of(4)]})
    fake.reset_log()
    results = sync_audiences(desired, supp, erasures, warehouse=wh, config=config)
    assert all(r.status == "success" for r in results), [r.line() for r in results]
    gone = {email_of(k) for k in [3, 4, *range(5, 20)]}
    for esp in ESP_NAMES:
        members = fake.list_members(esp, "newsletter")
        assert not members & gone
        assert members == {email_of(k) for k in keys} - gone
    assert not _file_emails(tmp_path) & gone
    upserts = [
        *fake.requests("mailchimp", "POST", r"^/3\.0/lists/[^/]+$"),
        *fake.requests("klaviyo", "POST", "profile-bulk-import-jobs"),
        *fake.requests("hubspot", "POST", "batch/upsert"),
    ]
    assert upserts == []
    assert "NEW OFFER" not in str([r.body for r in fake.requests()])
    for result in results:
        if result.list_key != ESP_WIDE:
            assert result.counts["consent_removes"] == 17
    suppressed = {r.destination: r.counts["suppressions"] for r in results if r.list_key == ESP_WIDE}
    assert suppressed == dict.fromkeys(ESP_NAMES, 17), "and each ESP itself stops mailing them"


def test_member_unsubscribed_in_the_esp_is_never_resubscribed(fake, wh, config):
    fake.seed_member("mailchimp", email_of(1), status="unsubscribed")
    fake.seed_member("mailchimp", email_of(2), status="cleaned")
    desired = audience("mailchimp", "vip", range(5))
    results = sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    assert fake.mailchimp_member(email_of(1))["status"] == "unsubscribed"
    assert fake.mailchimp_member(email_of(2))["status"] == "cleaned"
    assert fake.mailchimp_segment("vip") == {email_of(k) for k in (0, 3, 4)}
    for request in fake.requests("mailchimp", "POST", r"^/3\.0/lists/[^/]+$"):
        for member in request.body["members"]:
            assert "status" not in member
            assert member["status_if_new"] == "subscribed"
    assert results[0].rejected == 2
    reasons = dict(
        sql(wh, "SELECT member_key, reason FROM activation.sync_results WHERE status = 'rejected'")
    )
    assert reasons == {email_of(1): "esp_status_unsubscribed", email_of(2): "esp_status_cleaned"}


def test_erasure_reaches_every_esp_and_the_person_is_never_exported_again(fake, wh, config, tmp_path):
    first = sync_audiences(_desired(range(10)), no_suppressions(), warehouse=wh, config=config)
    assert all(r.ok for r in first)
    erasures = erasure_targets(2)
    report = propagate_erasures(erasures, warehouse=wh, config=config)
    assert set(report["destination"]) == set(ALL)
    assert set(report["status"]) == {"done"}
    assert fake.mailchimp_member(email_of(2)) is None
    assert fake.requests("mailchimp", "POST", "delete-permanent")
    assert email_of(2) in fake.kl_deletions and fake.klaviyo_profile(email_of(2)) is None
    assert fake.hubspot_contact(email_of(2)) is None
    assert email_of(2) not in _file_emails(tmp_path)
    state = sql(wh, "SELECT count(*) FROM activation.sync_state WHERE customer_key = 'c0000002'")[0][0]
    log_text = str(sql(wh, "SELECT * FROM activation.erasure_log"))
    assert state == 0
    assert email_of(2) not in log_text and "hash-2" in log_text
    # Later runs: the audience still lists the person (staging would have dropped them) and no
    # erasure frame is passed; the warehouse's tombstones alone keep them out.
    plant_tombstones(wh, [email_of(2)])
    fake.reset_log()
    results = sync_audiences(_desired(range(10)), no_suppressions(), warehouse=wh, config=config)
    assert all(r.excluded_reasons == {"erasure_requested": 1} for r in results)
    assert email_of(2) not in fake.emails_sent()
    for esp in ESP_NAMES:
        assert email_of(2) not in fake.list_members(esp, "newsletter")
    assert email_of(2) not in _file_emails(tmp_path)
    fake.reset_log()
    again = propagate_erasures(erasures, warehouse=wh, config=config)
    assert again.empty and fake.request_count() == 0


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_control_group_of_a_campaign_is_never_exported(fake, wh, tmp_path, esp):
    from tests.activation.helpers import fake_config

    config = fake_config(fake, tmp_path / "files")
    # arms as SQL assigns them with vars holdout_share 0.3 and holdout_salt s1
    desired = audience(
        esp, "winback", range(200), campaign_key="winback-2026-03", holdout_share=0.3, holdout_salt="s1"
    )
    results = sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    arms = dict(
        sql(
            wh,
            "SELECT customer_key, arm FROM activation.holdout_assignments WHERE campaign_key = ?",
            ["winback-2026-03"],
        )
    )
    control = {email_of(int(k[1:])) for k, arm in arms.items() if arm == "control"}
    assert len(arms) == 200 and 30 <= len(control) <= 90
    assert results[0].excluded_reasons == {"holdout_control": len(control)}
    assert not fake.emails_sent(esp) & control
    assert fake.list_members(esp, "winback") == {email_of(k) for k in range(200)} - control


def test_the_arms_are_logged_as_sql_assigned_them(fake, wh, config):
    desired = audience(
        "mailchimp", "winback", range(50), campaign_key="w", holdout_share=0.3, holdout_salt="s1"
    )
    sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    logged = sql(
        wh, "SELECT customer_key, arm, bucket, share, hash_version FROM activation.holdout_assignments"
    )
    expected = desired[
        ["customer_key", "holdout_arm", "holdout_bucket", "holdout_share", "holdout_hash_version"]
    ].itertuples(index=False, name=None)
    assert sorted(logged) == sorted(expected)


def test_a_row_that_contradicts_its_holdout_stops_the_sync_before_anything_is_sent(fake, wh, config):
    desired = audience(
        "mailchimp", "winback", range(50), campaign_key="w", holdout_share=0.3, holdout_salt="s1"
    )
    control = desired.index[desired["holdout_arm"] == "control"][0]
    desired.loc[control, "holdout_arm"] = "treatment"
    with pytest.raises(
        InputError, match=f"control is not bucket < share\\): w/{desired.loc[control, 'customer_key']}"
    ):
        sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    assert fake.request_count() == 0


def test_a_missing_or_impossible_email_verdict_stops_the_sync(fake, wh, config):
    desired = audience("hubspot", "vip", range(5)).astype({"is_email_valid": object})
    desired.loc[2, "is_email_valid"] = None
    with pytest.raises(InputError, match=r"is_email_valid is not true or false.*hubspot/vip: c0000002"):
        sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    desired.loc[2, ["email", "is_email_valid"]] = [None, True]
    with pytest.raises(InputError, match=r"is_email_valid is true without an address.*hubspot/vip: c0000002"):
        sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    with pytest.raises(InputError, match="lacks required columns \\['is_email_valid'\\]"):
        sync_audiences(desired.drop(columns="is_email_valid"), no_suppressions(), warehouse=wh, config=config)
    assert fake.request_count() == 0


def test_content_test_arms_reach_the_esp_as_a_merge_field_and_never_a_suppressed_person(fake, wh, config):
    """Arms as SQL assigns them (control [0, 0.2), subject_a [0.2, 0.6), subject_b [0.6, 1)): every
    arm but control is sent, each member with its arm as the HOLDOUT_AR merge field, and a
    suppressed member of any arm is sent nothing."""
    arms = [("subject_a", 0.2, 0.6), ("subject_b", 0.6, 1.0)]
    desired = audience(
        "mailchimp",
        "spring",
        range(120),
        campaign_key="spring",
        holdout_share=0.2,
        holdout_salt="s1",
        arm_ranges=arms,
    )
    by_arm = desired.groupby("holdout_arm")["email"].agg(set)
    assert set(by_arm.index) == {"control", "subject_a", "subject_b"}
    suppressed = {
        sorted(by_arm["subject_a"])[0],
        sorted(by_arm["subject_b"])[0],
        sorted(by_arm["control"])[0],
    }
    sync_audiences(
        desired,
        suppressions([(email, None, "unsubscribed") for email in suppressed]),
        warehouse=wh,
        config=config,
    )
    sent = fake.list_members("mailchimp", "spring")
    assert sent == (by_arm["subject_a"] | by_arm["subject_b"]) - suppressed
    assert not fake.emails_sent() & suppressed
    for arm in ("subject_a", "subject_b"):
        for email in by_arm[arm] - suppressed:
            assert fake.mailchimp_member(email)["merge_fields"]["HOLDOUT_AR"] == arm
    logged = dict(sql(wh, "SELECT customer_key, arm FROM activation.holdout_assignments"))
    assert logged == dict(zip(desired["customer_key"], desired["holdout_arm"], strict=True))
