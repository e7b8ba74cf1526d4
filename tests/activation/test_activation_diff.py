"""The diff: only changes travel, collapses are refused, other people's members are left alone,
nulls never blank a field, and every run is accounted for."""

from __future__ import annotations

import pandas as pd
import pytest

from activation import InputError, format_results, plan_sync, sync_audiences
from activation.config import ESP_NAMES
from tests.activation.helpers import audience, email_of, fake_config, no_suppressions, sql, suppressions

UPSERT_PATHS = {
    "mailchimp": r"^/3\.0/lists/[^/]+$",
    "klaviyo": r"^/api/profile-bulk-import-jobs$",
    "hubspot": r"batch/upsert$",
}


def _upserted_emails(fake, esp: str) -> list[str]:
    emails = []
    for request in fake.requests(esp, "POST", UPSERT_PATHS[esp]):
        if esp == "mailchimp":
            emails += [m["email_address"] for m in request.body["members"]]
        elif esp == "klaviyo":
            emails += [
                p["attributes"]["email"] for p in request.body["data"]["attributes"]["profiles"]["data"]
            ]
        else:
            emails += [i["id"] for i in request.body["inputs"]]
    return emails


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_unchanged_second_run_sends_nothing_and_one_percent_sends_only_that(fake, wh, config, esp):
    keys = range(1000)
    desired = audience(esp, "vip", keys)
    first = sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    assert first[0].status == "success" and first[0].sent == 1000
    fake.reset_log()
    second = sync_audiences(desired, no_suppressions(), warehouse=wh, config=config)
    assert second[0].counts["unchanged"] == 1000
    assert fake.request_count() == 0 and second[0].requests_made == 0
    changed = desired.copy()
    touched = [k * 100 + 7 for k in range(10)]
    changed.loc[changed["customer_key"].isin([f"c{k:07d}" for k in touched]), "offer"] = "free shipping"
    fake.reset_log()
    third = sync_audiences(changed, no_suppressions(), warehouse=wh, config=config)
    assert third[0].counts["updates"] == 10 and third[0].counts["creates"] == 0
    assert sorted(_upserted_emails(fake, esp)) == sorted(email_of(k) for k in touched)
    expected_requests = {"mailchimp": 1, "klaviyo": 3, "hubspot": 1}[esp]  # klaviyo: job + 2 polls
    assert fake.request_count() == expected_requests == third[0].requests_made
    assert not fake.requests(esp, path="segments|relationships|memberships")


@pytest.mark.parametrize("esp", (*ESP_NAMES, "file"))
def test_volume_guard_refuses_a_collapse_unless_forced(fake, wh, config, tmp_path, esp):
    sync_audiences(audience(esp, "vip", range(100)), no_suppressions(), warehouse=wh, config=config)
    fake.reset_log()
    # 30 of 100 members vanish from the mart with no consent reason: refused
    shrunk = audience(esp, "vip", range(70))
    refused = sync_audiences(shrunk, no_suppressions(), warehouse=wh, config=config)
    assert refused[0].status == "refused" and not refused[0].ok
    assert "volume guard" in refused[0].message
    assert fake.request_count() == 0
    # the audience disappears entirely (the list is absent from the frame): refused too
    other = audience(esp, "someone_else", range(200, 230))
    gone = sync_audiences(other, no_suppressions(), warehouse=wh, config=config)
    assert {r.list_key: r.status for r in gone} == {"vip": "refused", "someone_else": "success"}
    if esp == "file":
        assert len(pd.read_csv(tmp_path / "files" / "vip.csv")) == 100
    else:
        assert len(fake.list_members(esp, "vip")) == 100
    statuses = sql(wh, "SELECT status, count(*) FROM activation.sync_runs WHERE list_key = 'vip' GROUP BY 1")
    assert dict(statuses)["refused"] == 2
    # 20% is within the limit; a forced run may go further
    forced = {
        r.list_key: r
        for r in sync_audiences(shrunk, no_suppressions(), warehouse=wh, config=config, force=["vip"])
    }
    assert forced["vip"].status == "success" and "forced" in forced["vip"].message
    assert forced["someone_else"].status == "refused"  # vanished, and not forced
    if esp == "file":
        assert len(pd.read_csv(tmp_path / "files" / "vip.csv")) == 70
    else:
        assert fake.list_members(esp, "vip") == {email_of(k) for k in range(70)}
    assert sql(
        wh,
        "SELECT forced FROM activation.sync_runs WHERE status = 'success' AND list_key = 'vip' "
        "ORDER BY started_at DESC LIMIT 1",
    ) == [(True,)]


def test_a_small_list_may_empty_but_the_floor_is_configurable(fake, wh, tmp_path):
    small_lists_free = fake_config(fake, tmp_path / "files")
    assert small_lists_free.guard_min_members == 25
    sync_audiences(
        audience("file", "cart", range(10)), no_suppressions(), warehouse=wh, config=small_lists_free
    )
    emptied = sync_audiences(
        audience("file", "cart", []), no_suppressions(), warehouse=wh, config=small_lists_free
    )
    assert emptied[0].status == "success"
    assert len(pd.read_csv(tmp_path / "files" / "cart.csv")) == 0

    no_floor = fake_config(fake, tmp_path / "files", AW_ACTIVATION_GUARD_MIN_MEMBERS="10")
    sync_audiences(audience("file", "vip", range(10)), no_suppressions(), warehouse=wh, config=no_floor)
    refused = sync_audiences(audience("file", "vip", []), no_suppressions(), warehouse=wh, config=no_floor)
    assert refused[0].status == "refused" and "the audience is empty" in refused[0].message
    assert len(pd.read_csv(tmp_path / "files" / "vip.csv")) == 10


def test_empty_audience_with_consent_removals_only_is_not_a_collapse(fake, wh, config):
    sync_audiences(audience("mailchimp", "vip", range(10)), no_suppressions(), warehouse=wh, config=config)
    supp = suppressions([(email_of(k), None, "unsubscribed") for k in range(10)])
    empty = audience("mailchimp", "vip", [])
    results = sync_audiences(empty, supp, warehouse=wh, config=config)
    assert results[0].status == "success" and results[0].counts["consent_removes"] == 10
    assert fake.mailchimp_segment("vip") == set()


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_only_memberships_we_created_are_removed(fake, wh, config, esp):
    fake.seed_member(esp, email_of(5), list_name="vip")  # in our audience too, but added by someone else
    fake.seed_member(esp, "someone@else.example.com", list_name="vip")  # never in our audience
    sync_audiences(audience(esp, "vip", range(10)), no_suppressions(), warehouse=wh, config=config)
    owned = dict(sql(wh, "SELECT member_key, created_by_us FROM activation.sync_state"))
    assert owned[email_of(5)] is False and sum(owned.values()) == 9
    results = sync_audiences(
        audience(esp, "vip", [0, 1, 2, 3, 4, 6, 7, 8]), no_suppressions(), warehouse=wh, config=config
    )
    assert results[0].counts["removes"] == 1 and results[0].counts["releases"] == 1
    members = fake.list_members(esp, "vip")
    assert email_of(9) not in members
    assert {email_of(5), "someone@else.example.com"} <= members
    actions = dict(
        sql(
            wh, "SELECT member_key, action FROM activation.sync_results WHERE action IN ('remove', 'release')"
        )
    )
    assert actions == {email_of(9): "remove", email_of(5): "release"}


@pytest.mark.parametrize("esp", ESP_NAMES)
def test_null_or_blank_values_never_overwrite_esp_fields(fake, wh, config, esp):
    sync_audiences(audience(esp, "vip", range(3)), no_suppressions(), warehouse=wh, config=config)
    blanked = audience(esp, "vip", range(3))
    blanked["first_name"] = [None, "", "   "]
    blanked["offer"] = None
    blanked["recommended_products"] = [None, "[]", ""]
    fake.reset_log()
    results = sync_audiences(blanked, no_suppressions(), warehouse=wh, config=config)
    assert results[0].counts["updates"] == 3
    for request in fake.requests(esp):
        if request.body is None:
            continue
        text = str(request.body)
        assert "''" not in text and "None" not in text
    for k in range(3):
        if esp == "mailchimp":
            fields = fake.mailchimp_member(email_of(k))["merge_fields"]
            assert fields["FNAME"] == f"First{k}" and fields["OFFER"] == "10% off" and fields["REC_IDS"]
        elif esp == "klaviyo":
            profile = fake.klaviyo_profile(email_of(k))
            assert profile["first_name"] == f"First{k}" and profile["properties"]["offer"] == "10% off"
            assert profile["properties"]["recommended_products"]
        else:
            props = fake.hubspot_contact(email_of(k))["properties"]
            assert props["firstname"] == f"First{k}" and props["aw_offer"] == "10% off"


def test_dry_run_plans_without_sending_and_logs_the_plan(fake, wh, config):
    sync_audiences(audience("klaviyo", "vip", range(10)), no_suppressions(), warehouse=wh, config=config)
    desired = audience("klaviyo", "vip", range(2, 15))
    desired.loc[desired["customer_key"] == "c0000003", "offer"] = "changed"
    fake.reset_log()
    plans = plan_sync(desired, no_suppressions(), warehouse=wh, config=config)
    counts = plans[0].counts
    assert (counts["creates"], counts["updates"], counts["removes"], counts["unchanged"]) == (5, 1, 2, 7)
    assert plans[0].status == "dry_run" and fake.request_count() == 0
    assert set(plans[0].plan.removes["member_key"]) == {email_of(0), email_of(1)}
    text = format_results(plans)
    assert "klaviyo" in text and "create=      5" in text
    runs = sql(
        wh,
        "SELECT dry_run, planned_creates, planned_updates, planned_removes FROM activation.sync_runs "
        "WHERE status = 'dry_run'",
    )
    assert runs == [(True, 5, 1, 2)]
    assert sql(wh, "SELECT count(*) FROM activation.sync_state")[0][0] == 10


def test_runs_and_rows_are_accounted_for(fake, wh, config):
    desired = audience("hubspot", "vip", range(20))
    desired.loc[3, "preferred_send_hour"] = 31
    desired.loc[4, "recommended_products"] = "{not json"
    desired.loc[5, "email"] = email_of(6)  # duplicate address: the first customer key wins
    desired.loc[7, "customer_key"] = None
    results = sync_audiences(desired, no_suppressions(), warehouse=wh, config=config, run_id="run-1")
    r = results[0]
    assert r.counts["rows_in"] == 20 == r.counts["eligible"] + r.counts["excluded"]
    assert r.excluded_reasons == {
        "invalid_preferred_send_hour": 1,
        "invalid_recommended_products": 1,
        "duplicate_email": 1,
        "missing_customer_key": 1,
    }
    run = sql(
        wh,
        "SELECT run_id, destination, list_key, status, rows_in, eligible, excluded, sent, rejected, "
        "failed, requests_made, finished_at IS NOT NULL, duration_seconds > 0 FROM activation.sync_runs",
    )
    assert run == [("run-1", "hubspot", "vip", "success", 20, 16, 4, 16, 0, 0, r.requests_made, True, True)]
    per_row = dict(
        sql(wh, "SELECT action || '/' || status, count(*) FROM activation.sync_results GROUP BY 1")
    )
    assert per_row == {"create/sent": 16, "exclude/rejected": 4}


def test_bad_input_frames_are_clear_errors(wh, config):
    with pytest.raises(InputError, match="lacks required columns"):
        sync_audiences(pd.DataFrame({"email": ["a@b.co"]}), no_suppressions(), warehouse=wh, config=config)
    with pytest.raises(InputError, match="unknown destination"):
        sync_audiences(audience("mailjet", "vip", range(2)), no_suppressions(), warehouse=wh, config=config)
    with pytest.raises(InputError, match="unknown reasons"):
        bad = suppressions([(email_of(1), None, "felt_like_it")])
        sync_audiences(audience("file", "vip", range(2)), bad, warehouse=wh, config=config)
    with pytest.raises(InputError, match="suppression frame is required"):
        sync_audiences(audience("file", "vip", range(2)), None, warehouse=wh, config=config)


def test_unconfigured_esp_falls_back_to_the_file_destination(wh, tmp_path):
    from activation.config import ActivationConfig, FileConfig

    config = ActivationConfig(file=FileConfig(directory=tmp_path / "out"))
    results = sync_audiences(
        audience("klaviyo", "vip", range(4)), no_suppressions(), warehouse=wh, config=config
    )
    assert results[0].destination == "file" and results[0].status == "success"
    assert "not configured" in results[0].message
    assert len(pd.read_parquet(tmp_path / "out" / "klaviyo" / "vip.parquet")) == 4
    skip = ActivationConfig(file=FileConfig(directory=tmp_path / "out"), unconfigured="skip")
    skipped = sync_audiences(
        audience("hubspot", "vip", range(4)), no_suppressions(), warehouse=wh, config=skip
    )
    assert skipped[0].status == "skipped"


def test_a_sync_of_some_lists_leaves_the_others_at_the_esp_as_they_are(fake, wh, config):
    everything = pd.concat(
        [audience("mailchimp", "vip", range(50)), audience("mailchimp", "carts", range(50, 60))]
    )
    sync_audiences(everything, no_suppressions(), warehouse=wh, config=config)
    carts_only = audience("mailchimp", "carts", range(55, 70))
    results = sync_audiences(carts_only, no_suppressions(), warehouse=wh, config=config, lists=["carts"])
    assert [r.list_key for r in results if r.list_key != "*"] == ["carts"]
    assert fake.list_members("mailchimp", "vip") == {email_of(k) for k in range(50)}
    assert fake.list_members("mailchimp", "carts") == {email_of(k) for k in range(55, 70)}
