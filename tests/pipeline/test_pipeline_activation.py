"""Activation through the real Dagster assets: file audiences when no ESP is configured, a diff sync
to the three fake ESPs that a second run leaves untouched, and consent withdrawn between two runs —
by every route a person can take — reaching no destination ever again."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

import duckdb
import pandas as pd

from fake_esp import FakeESP
from tests.pipeline.helpers import (
    CONTACT_HEADER,
    copy_run,
    failure_messages,
    materialize,
    write_csv,
    write_lines,
)

ESPS = ("mailchimp", "klaviyo", "hubspot")


def _frame(warehouse, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def _treatment(warehouse) -> pd.DataFrame:
    return _frame(
        warehouse,
        "select destination, list_key, customer_key, email from restricted.audience_export "
        "where holdout_arm = 'treatment'",
    )


def _suppressed(warehouse) -> set[str]:
    sql = "select email from restricted.suppressed_addresses where email is not null"
    return set(_frame(warehouse, sql).email)


def _control(warehouse) -> dict[tuple[str, str], set[str]]:
    """Control members per list: held out of that campaign (they may be in another list)."""
    control = _frame(
        warehouse,
        "select destination, list_key, email from restricted.audience_export where holdout_arm = 'control'",
    )
    return {key: set(group.email) for key, group in control.groupby(["destination", "list_key"])}


def _esp_lists(fake: FakeESP, warehouse) -> dict[tuple[str, str], set[str]]:
    lists = _frame(warehouse, "select distinct destination, list_key from activation.sync_state")
    return {(d, name): fake.list_members(d, name) for d, name in lists.itertuples(index=False) if d in ESPS}


def test_without_an_esp_the_run_writes_file_audiences(demo_run):
    treatment = _treatment(demo_run.warehouse)
    assert set(treatment.destination) == set(ESPS)
    control = _control(demo_run.warehouse)
    exported: set[str] = set()
    for (destination, list_key), members in treatment.groupby(["destination", "list_key"]):
        written = pd.read_csv(demo_run.root / "exports" / destination / f"{list_key}.csv")
        assert set(written.email) == set(members.email), (destination, list_key)
        assert not set(written.email) & control.get((destination, list_key), set())
        assert {
            "first_name",
            "offer",
            "recommended_products",
            "preferred_send_hour",
            "cart_items",
            "currency",
        } <= set(written.columns)
        exported |= set(written.email)
    assert exported
    assert not exported & _suppressed(demo_run.warehouse)


def test_sync_to_the_fake_esps_mirrors_the_audiences_and_a_second_run_sends_nothing(
    demo_run, tmp_path, monkeypatch
):
    warehouse = copy_run(demo_run, tmp_path, monkeypatch)
    with FakeESP() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        first = materialize(groups=("activation",), as_of=demo_run.as_of.isoformat())
        assert first.success, failure_messages(first)

        expected = {
            key: set(group.email) for key, group in _treatment(warehouse).groupby(["destination", "list_key"])
        }
        lists = _esp_lists(fake, warehouse)
        assert lists == expected
        assert not fake.emails_sent() & _suppressed(warehouse)
        for key, members in lists.items():
            assert not members & _control(warehouse).get(key, set()), key

        fake.reset_log()
        second = materialize(groups=("activation",), as_of=demo_run.as_of.isoformat())
        assert second.success, failure_messages(second)
        assert fake.request_count() == 0
        assert _esp_lists(fake, warehouse) == expected


def _added_or_updated(fake: FakeESP) -> str:
    """The text of every part of a request that adds or updates people — Mailchimp batch
    subscribes and segment additions, Klaviyo profile imports, HubSpot upserts — and not the
    removals, which must name the people they remove."""
    parts = []
    for request in fake.requests():
        body = request.body if isinstance(request.body, dict) else {}
        if request.esp == "mailchimp" and request.method == "POST" and "/segments/" in request.path:
            parts.append(body.get("members_to_add"))
        elif request.esp == "mailchimp" and request.method == "POST" and request.path.count("/") == 3:
            parts.append(body.get("members"))
        elif (request.esp == "klaviyo" and "profile-bulk-import-jobs" in request.path) or (
            request.esp == "hubspot" and "batch/upsert" in request.path
        ):
            parts.append(body)
    return json.dumps(parts).lower()


def _withdraw_consent(landing, members: dict[str, dict], as_of) -> None:
    """New landing files in which each chosen member loses the right to be e-mailed in a different
    way, a day before as_of: the generator's files are left as they are."""
    moment = (as_of - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    contacts = pd.read_csv(landing / "crm" / "contacts.csv", dtype=str, keep_default_na=False)
    newer = []
    for kind, email in (("crm_opt_out", "no"), ("invalid_email", None)):
        row = contacts[contacts.contact_id == members[kind]["contact_id"]].iloc[-1].to_dict()
        row["updated_at"] = moment
        if email:
            row["email_opt_in"] = email
        else:
            row["email"] = "not-an-address"
        newer.append([row[column] for column in CONTACT_HEADER])
    write_csv(landing / "crm" / "contacts_withdrawn.csv", CONTACT_HEADER, newer)
    events = [
        {"event_id": f"withdrawn-{kind}", "campaign_id": "CMP-WITHDRAWN", "contact_id": None,
         "email": members[kind]["email"].upper(), "event_type": event, "event_at": moment, "url": None}
        for kind, event in (("unsubscribe", "unsubscribe"), ("complaint", "complaint"), ("bounce", "bounce"))
    ]  # fmt: skip
    write_lines(landing / "email" / "events" / "withdrawn.jsonl", [json.dumps(e) for e in events])
    write_csv(
        landing / "privacy" / "requests_withdrawn.csv",
        ["request_id", "contact_id", "email", "request_type", "requested_at"],
        [
            ["PR-ERASE", "", f"  {members['erasure']['email'].upper()} ", "erasure", moment],
            ["PR-OPTOUT", members["privacy_opt_out"]["contact_id"], "", "opt_out", moment],
        ],
    )


def test_consent_withdrawn_between_two_runs_reaches_no_destination(demo_run, tmp_path, monkeypatch):
    warehouse = copy_run(demo_run, tmp_path, monkeypatch)
    landing = tmp_path / "landing"
    shutil.copytree(demo_run.landing, landing)
    monkeypatch.setenv("AW_LANDING_DIR", str(landing))
    with FakeESP() as fake:
        for name, value in fake.env().items():
            monkeypatch.setenv(name, value)
        first = materialize(groups=("activation",), as_of=demo_run.as_of.isoformat())
        assert first.success, failure_messages(first)

        exported = _frame(
            warehouse,
            "select distinct members.customer_key, members.email, details.contact_id "
            "from restricted.audience_export as members "
            "inner join restricted.customer_contact_details as details using (customer_key) "
            "where members.holdout_arm = 'treatment' and members.destination = 'mailchimp' "
            "and details.contact_id is not null order by members.customer_key",
        )
        kinds = [
            "unsubscribe",
            "complaint",
            "bounce",
            "erasure",
            "privacy_opt_out",
            "crm_opt_out",
            "invalid_email",
        ]
        assert len(exported) >= len(kinds)
        chosen = {kind: row for kind, row in zip(kinds, exported.to_dict("records"), strict=False)}
        withdrawn = {row["email"] for row in chosen.values()}
        assert all(
            any(email in members for members in _esp_lists(fake, warehouse).values()) for email in withdrawn
        )

        _withdraw_consent(landing, chosen, demo_run.as_of)
        fake.reset_log()
        second = materialize(groups=None, as_of=demo_run.as_of.isoformat())
        assert second.success, failure_messages(second)

        for key, members in _esp_lists(fake, warehouse).items():
            assert not members & withdrawn, (key, members & withdrawn)
        added_again = {email for email in withdrawn if email in _added_or_updated(fake)}
        assert not added_again
        erased = chosen["erasure"]["email"]
        assert erased in fake.kl_deletions and erased in fake.hs_gdpr_deleted
        assert fake.requests("mailchimp", "POST", "delete-permanent")
        statuses = _frame(
            warehouse,
            "select customer_key, consent_status from marts.customer_profiles "
            f"where customer_key in ({', '.join(repr(r['customer_key']) for r in chosen.values())})",
        ).set_index("customer_key")["consent_status"]
        assert statuses.get(chosen["unsubscribe"]["customer_key"]) == "unsubscribed"
        assert statuses.get(chosen["complaint"]["customer_key"]) == "complained"
        assert statuses.get(chosen["bounce"]["customer_key"]) == "bounced"
        assert statuses.get(chosen["privacy_opt_out"]["customer_key"]) == "opted_out"
        assert statuses.get(chosen["crm_opt_out"]["customer_key"]) == "not_opted_in"
        assert statuses.get(chosen["invalid_email"]["customer_key"]) == "invalid_email"
        assert chosen["erasure"]["customer_key"] not in statuses.index
