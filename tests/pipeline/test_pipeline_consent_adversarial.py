"""Consent tried as an attacker would, with ordinary dirty data (issue 8): every case is a person who
was exported to the three (fake) ESPs, then withdrawn by a row made to slip through — a tab, an odd
date, a spelling, an unrelated CRM edit, a future opt-in, a broken line — and a second run of the
daily job through Dagster (everything but training). None of them may reach any ESP list or file
again; an erased person may leave nothing but a hash. A property-style case perturbs consent rows
at random (seeded) the same way, and the independent oracle (warehouse/consent_audit.py), reading
only the landing files, checks every export."""

from __future__ import annotations

import csv
import json
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from activation.config import ESP_NAMES
from fake_esp import FakeESP
from tests.pipeline.helpers import CONTACT_HEADER, failure_messages, materialize, write_csv, write_lines
from warehouse.consent_audit import exported_addresses, must_not_mail

CASES = (
    "crm_edit_after_unsubscribe",
    "future_opt_in_at",
    "unsubscribe_address_with_tab",
    "unsubscribe_us_date",
    "unsubscribe_spelled_unsubscribed",
    "erasure_address_with_tab",
    "unsubscribe_in_broken_line",
    "complaint_spelled_spam_report",
    "unsubscribe_without_event_id",
)
PERTURBED = 24
CLEAN_WITHDRAWALS = (
    "unsubscribe", "complaint", "bounce", "erasure", "privacy_opt_out", "crm_opt_out", "invalid_email",
)  # fmt: skip
SPELLINGS = (
    "unsubscribe", "Unsubscribed", "UNSUB", "opt-out", "Opted Out", "spam_report", "Complaint", "hard_bounce",
    "bounce ", "List-Unsubscribe", "unsubscribe\t",
)  # fmt: skip
# After any opt-in the generator can have written (versions stop a minute before as_of), so no
# perturbed withdrawal is lifted by an explicit later opt-in: each must keep its person out.
MOMENTS = (
    "2026-06-29T23:59:30Z", "29/06/2026 23:59", "06/29/2026 11:59 PM", "1782777570", "garbage", "",
    "2099-01-01", "2026-06-29 23:59:30", "2026-06-30T01:59:30+02:00",
)  # fmt: skip
LATE = "2026-06-29T23:59:30Z"


@dataclass
class AdversarialRun:
    root: Path
    landing: Path
    warehouse: Path
    fake: FakeESP
    chosen: dict[str, dict]
    perturbed: list[dict]
    clean: dict[str, dict]
    exported_before: set[str]
    added_after: str


def _frame(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def _esp_members(fake: FakeESP, warehouse: Path) -> set[str]:
    lists = _frame(warehouse, "select distinct destination, list_key from activation.sync_state")
    members: set[str] = set()
    for destination, name in lists.itertuples(index=False):
        if destination in ESP_NAMES:
            members |= fake.list_members(destination, name)
    return members


def _added_or_updated(fake: FakeESP) -> str:
    parts = []
    for request in fake.requests():
        body = request.body if isinstance(request.body, dict) else {}
        if request.esp == "mailchimp" and request.method == "POST" and "/segments/" in request.path:
            parts.append(body.get("members_to_add"))
        elif request.esp == "mailchimp" and request.method == "POST" and request.path.count("/") == 3:
            parts.append([m for m in body.get("members", []) if m.get("status") != "unsubscribed"])
        elif (request.esp == "klaviyo" and "profile-bulk-import-jobs" in request.path) or (
            request.esp == "hubspot" and "batch/upsert" in request.path
        ):
            parts.append(body)
    return json.dumps(parts).lower()


def _contact_row(landing: Path, contact_id: str) -> dict:
    rows = []
    for path in sorted((landing / "crm").glob("contacts*.csv")):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        rows += frame[frame.contact_id == contact_id].to_dict("records")
    assert rows, contact_id
    return rows[-1]


def _event(event_id, email, event_type, event_at, contact_id=""):
    return {
        "event_id": event_id,
        "campaign_id": "CMP-ADV",
        "contact_id": contact_id,
        "email": email,
        "event_type": event_type,
        "event_at": event_at,
        "url": "",
    }


def _plant_cases(landing: Path, chosen: dict[str, dict]) -> None:
    """One dirty withdrawal per case, in new landing files (the generator's files stay as they are)."""
    # Every moment lies after the generator's own CRM versions (a minute before as_of at the
    # latest), so no opt-in the generator wrote can legitimately lift a withdrawal planted here.
    crm_rows, events = [], []
    edit = _contact_row(landing, chosen["crm_edit_after_unsubscribe"]["contact_id"])
    crm_rows += [
        {**edit, "updated_at": "2026-06-29T23:59:10Z", "email_opt_in": "yes", "opt_in_at": ""},
        {
            **edit,
            "updated_at": "2026-06-29T23:59:40Z",
            "email_opt_in": "yes",
            "opt_in_at": "",
            "city": "Elsewhere",
        },
    ]
    events.append(_event("adv-1", edit["email"], "unsubscribe", "2026-06-29T23:59:20Z"))
    future = _contact_row(landing, chosen["future_opt_in_at"]["contact_id"])
    crm_rows.append(
        {**future, "updated_at": "2026-06-29T23:59:10Z", "email_opt_in": "yes", "opt_in_at": "2099-01-01"}
    )
    events.append(_event("adv-2", future["email"], "unsubscribe", LATE))
    plain = [
        ("adv-3", chosen["unsubscribe_address_with_tab"]["email"] + "\t", "unsubscribe", LATE),
        ("adv-4", chosen["unsubscribe_us_date"]["email"], "unsubscribe", "06/29/2026 11:59 PM"),
        ("adv-5", chosen["unsubscribe_spelled_unsubscribed"]["email"], "Unsubscribed", LATE),
        ("adv-8", chosen["complaint_spelled_spam_report"]["email"].upper(), "spam_report", LATE),
        ("", chosen["unsubscribe_without_event_id"]["email"], "unsubscribe", LATE),
    ]
    events += [_event(*row) for row in plain]

    write_csv(
        landing / "crm" / "contacts_adversarial.csv",
        CONTACT_HEADER,
        [[r[c] for c in CONTACT_HEADER] for r in crm_rows],
    )
    header = list(events[0])
    write_csv(landing / "email" / "events_adversarial.csv", header, [[e[c] for c in header] for e in events])
    broken = chosen["unsubscribe_in_broken_line"]["email"]
    write_lines(
        landing / "privacy" / "requests_adversarial.csv",
        [
            "request_id,contact_id,email,request_type,requested_at",
            f"PR-ADV-ERASE,,{chosen['erasure_address_with_tab']['email']}\t,Erasure,2026-05-01",
            f'PR-ADV-BROKEN,,{broken},opt_out,"{LATE}',
        ],
    )  # fmt: skip


def _withdraw_consent_cleanly(landing: Path, members: dict[str, dict]) -> None:
    """Each member loses the right to be e-mailed in one of the ordinary, clean ways, in new landing
    files, after any opt-in the generator wrote: the generator's files stay as they are."""
    contacts = pd.read_csv(landing / "crm" / "contacts.csv", dtype=str, keep_default_na=False)
    newer = []
    for kind, email in (("crm_opt_out", "no"), ("invalid_email", None)):
        row = contacts[contacts.contact_id == members[kind]["contact_id"]].iloc[-1].to_dict()
        row["updated_at"] = LATE
        if email:
            row["email_opt_in"] = email
        else:
            row["email"] = "not-an-address"
        newer.append([row[column] for column in CONTACT_HEADER])
    write_csv(landing / "crm" / "contacts_withdrawn.csv", CONTACT_HEADER, newer)
    events = [
        {"event_id": f"withdrawn-{kind}", "campaign_id": "CMP-WITHDRAWN", "contact_id": None,
         "email": members[kind]["email"].upper(), "event_type": event, "event_at": LATE, "url": None}
        for kind, event in (("unsubscribe", "unsubscribe"), ("complaint", "complaint"), ("bounce", "bounce"))
    ]  # fmt: skip
    write_lines(landing / "email" / "events" / "withdrawn.jsonl", [json.dumps(e) for e in events])
    write_csv(
        landing / "privacy" / "requests_withdrawn.csv",
        ["request_id", "contact_id", "email", "request_type", "requested_at"],
        [
            ["PR-ERASE", "", f"  {members['erasure']['email'].upper()} ", "erasure", LATE],
            ["PR-OPTOUT", members["privacy_opt_out"]["contact_id"], "", "opt_out", LATE],
        ],
    )


def _perturb(rng: random.Random, person: dict, index: int) -> tuple[str, dict]:
    """A withdrawal of consent for `person`, dirtied at random in each field that could hide it."""
    padding = ["", " ", "\t", "\u00a0", "\u200b", "\r", "  \t "]
    address = person["email"]
    address = rng.choice([address, address.upper(), address.title()])
    address = rng.choice(padding) + address + rng.choice(padding)
    spelling = rng.choice(SPELLINGS)
    moment = rng.choice(MOMENTS)
    event_id = rng.choice([f"adv-p{index}", "", " "])
    use_contact = rng.random() < 0.3
    return "email_event", _event(
        event_id,
        "" if use_contact and rng.random() < 0.5 else address,
        spelling,
        moment,
        person["contact_id"] if use_contact else "",
    )


@pytest.fixture(scope="module")
def adversarial_run(demo_run, tmp_path_factory) -> AdversarialRun:
    root = tmp_path_factory.mktemp("adversarial")
    for folder in ("models", "exports"):
        if (demo_run.root / folder).exists():
            shutil.copytree(demo_run.root / folder, root / folder)
    shutil.copy(demo_run.warehouse, root / "warehouse.duckdb")
    landing = root / "landing"
    shutil.copytree(demo_run.landing, landing)
    environment = {
        "AW_LANDING_DIR": str(landing),
        "AW_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "AW_MODELS_DIR": str(root / "models"),
        "AW_PUBLISHED_PATH": str(root / "published" / "warehouse.duckdb"),
        "AW_ACTIVATION_FILE_DIR": str(root / "exports"),
    }
    with pytest.MonkeyPatch.context() as patch, FakeESP() as fake:
        for name, value in {**environment, **fake.env()}.items():
            patch.setenv(name, value)
        first = materialize(groups=("activation",), as_of=demo_run.as_of.isoformat())
        assert first.success, failure_messages(first)
        warehouse = root / "warehouse.duckdb"
        people = _frame(
            warehouse,
            "select distinct members.customer_key, members.email, details.contact_id "
            "from restricted.audience_export as members "
            "inner join restricted.customer_contact_details as details using (customer_key) "
            "where members.holdout_arm <> 'control' and members.destination = 'mailchimp' "
            "and details.contact_id is not null order by members.customer_key",
        ).to_dict("records")
        assert len(people) >= len(CASES) + PERTURBED + len(CLEAN_WITHDRAWALS), len(people)
        exported_before = _esp_members(fake, warehouse)
        chosen = dict(zip(CASES, people, strict=False))
        rng = random.Random(8)
        perturbed = []
        rows = []
        for index, person in enumerate(people[len(CASES) : len(CASES) + PERTURBED]):
            _, row = _perturb(rng, person, index)
            rows.append(row)
            perturbed.append({**person, "row": row})
        _plant_cases(landing, chosen)
        clean = dict(zip(CLEAN_WITHDRAWALS, people[len(CASES) + PERTURBED :], strict=False))
        _withdraw_consent_cleanly(landing, clean)
        header = list(rows[0])
        with open(landing / "email" / "events_perturbed.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows([[r[c] for c in header] for r in rows])
        fake.reset_log()
        # The daily run: consent, suppression and the exports do not depend on training the models.
        second = materialize(groups=None, as_of=demo_run.as_of.isoformat(), job="daily_refresh")
        assert second.success, failure_messages(second)
        yield AdversarialRun(
            root, landing, warehouse, fake, chosen, perturbed, clean, exported_before, _added_or_updated(fake)
        )


def _never_exported_again(run: AdversarialRun, email: str) -> None:
    email = email.lower()
    assert email in run.exported_before, "the case needs a person who was exported before"
    assert email not in _esp_members(run.fake, run.warehouse)
    assert email not in run.added_after
    files = exported_addresses(run.root / "exports")
    assert not [name for name, members in files.items() if email in members]


@pytest.mark.parametrize("case", [c for c in CASES if c != "erasure_address_with_tab"])
def test_a_dirty_withdrawal_of_consent_is_never_exported_again(adversarial_run, case):
    _never_exported_again(adversarial_run, adversarial_run.chosen[case]["email"])


def test_the_doubtful_rows_are_listed_for_review(adversarial_run):
    doubts = _frame(
        adversarial_run.warehouse,
        "select email, consent_source, doubt_reason from audit.consent_suppressed_on_doubt",
    )
    by_email = dict(zip(doubts.email, doubts.doubt_reason, strict=False))
    assert by_email[adversarial_run.chosen["unsubscribe_us_date"]["email"]] == "unparseable_event_at"
    assert by_email[adversarial_run.chosen["unsubscribe_in_broken_line"]["email"]] == "malformed_line"


def test_an_erasure_whose_address_ends_in_a_tab_reaches_every_esp(adversarial_run):
    run = adversarial_run
    email = run.chosen["erasure_address_with_tab"]["email"].lower()
    _never_exported_again(run, email)
    assert email in run.fake.kl_deletions
    assert run.fake.requests("mailchimp", "POST", "delete-permanent")
    assert run.fake.mailchimp_member(email) is None and run.fake.klaviyo_profile(email) is None
    assert run.fake.hubspot_contact(email) is None


def test_an_erased_person_leaves_nothing_but_a_hash(adversarial_run):
    run = adversarial_run
    person = run.chosen["erasure_address_with_tab"]
    identifiers = {person["email"].lower(), person["contact_id"], person["customer_key"]}
    contact = _contact_row(run.landing, person["contact_id"])
    phone = "".join(ch for ch in contact["phone"] if ch.isdigit() or ch == "+")
    if len(phone) >= 8:
        identifiers.add(phone)
    hits = []
    for path in (run.warehouse, run.root / "published" / "warehouse.duckdb"):
        with duckdb.connect(str(path), read_only=True) as con:
            columns = con.execute(
                "select c.table_schema, c.table_name, c.column_name from information_schema.columns as c "
                "join information_schema.tables as t using (table_catalog, table_schema, table_name) "
                "where t.table_type = 'BASE TABLE'"
            ).fetchall()
            for schema, table, column in columns:
                for identifier in identifiers:
                    text = f'lower(cast("{column}" as varchar))'
                    found = con.execute(
                        f'select count(*) from "{schema}"."{table}" where strpos({text}, ?) > 0',
                        [identifier.lower()],
                    ).fetchone()[0]
                    if found:
                        hits.append((path.name, schema, table, column, identifier))
    for folder in ("exports", "models", "published"):
        for path in (run.root / folder).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                hits += [(str(path), identifier) for identifier in identifiers if identifier.encode() in data]
    esp_state = json.dumps(
        [
            run.fake.mc_members,
            run.fake.kl_profiles,
            run.fake.hs_contacts,
            run.fake.kl_lists,
            run.fake.hs_lists,
        ],
        default=list,
    ).lower()
    hits += [("fake esp", identifier) for identifier in identifiers if identifier.lower() in esp_state]
    assert hits == []
    tombstones = _frame(
        run.warehouse, "select identifier_type, count(*) as n from privacy.erasure_tombstones group by 1"
    )
    assert {"email", "contact_id", "customer_key"} <= set(tombstones.identifier_type)


def test_randomly_perturbed_withdrawals_never_reach_a_list_or_a_file(adversarial_run):
    for person in adversarial_run.perturbed:
        _never_exported_again(adversarial_run, person["email"])


def test_the_independent_oracle_finds_no_export_it_would_forbid(adversarial_run, demo_run):
    run = adversarial_run
    verdict = must_not_mail(run.landing, demo_run.as_of)
    exported = set().union(*exported_addresses(run.root / "exports").values())
    exported |= _esp_members(run.fake, run.warehouse)
    assert exported
    assert verdict.violations(exported) == {}
    planted = {p["email"].lower() for p in run.chosen.values()} | {p["email"].lower() for p in run.perturbed}
    assert planted <= set(verdict.forbidden), planted - set(verdict.forbidden)


def test_the_oracle_is_not_fooled_by_its_own_reading(tmp_path):
    """The oracle itself must flag a planted export it forbids: a check that cannot fail proves nothing."""
    landing = tmp_path / "landing"
    write_csv(
        landing / "crm" / "contacts.csv",
        CONTACT_HEADER,
        [
            [
                {
                    "contact_id": "C1",
                    "email": "a@x.co",
                    "email_opt_in": "yes",
                    "updated_at": "2026-01-01",
                }.get(c, "")
                for c in CONTACT_HEADER
            ]
        ],
    )
    write_lines(
        landing / "email" / "events.csv",
        [
            "event_id,campaign_id,contact_id,email,event_type,event_at,url",
            "E1,,,A@X.CO\t,Unsubscribed,03/15/2026 10:00 PM,",
        ],
    )
    verdict = must_not_mail(landing, pd.Timestamp("2026-06-30").to_pydatetime())
    assert verdict.violations({"a@x.co"}) == {
        "a@x.co": {"e-mail event 'Unsubscribed' at '03/15/2026 10:00 PM'"}
    }
    assert verdict.violations({"b@x.co"}) == {"b@x.co": {"no explicit opt-in in the latest CRM version"}}


@pytest.mark.parametrize("spelling", ["yes", " Y ", "TRUE", "t", "1", "1\t"])
def test_the_oracle_reads_every_spelling_of_an_explicit_yes(tmp_path, spelling):
    """The contract spells yes as yes/y/true/t/1: a flag of 1 is an opt-in (the oracle once read only
    letters, so every contact flagged 1 looked forbidden and the small-scale audit cried wolf)."""
    row = {"contact_id": "C1", "email": "a@x.co", "email_opt_in": spelling, "updated_at": "2026-01-01"}
    write_csv(tmp_path / "crm" / "contacts.csv", CONTACT_HEADER, [[row.get(c, "") for c in CONTACT_HEADER]])
    verdict = must_not_mail(tmp_path, pd.Timestamp("2026-06-30").to_pydatetime())
    assert verdict.violations({"a@x.co"}) == {}


def test_purge_landing_removes_the_erased_person_from_the_files_and_nothing_else(adversarial_run, tmp_path):
    from landing.purge import purge_landing

    run = adversarial_run
    landing = tmp_path / "landing"
    shutil.copytree(run.landing, landing)
    person = run.chosen["erasure_address_with_tab"]
    before = {p: p.read_bytes() for p in landing.rglob("*") if p.is_file()}
    purged = purge_landing(run.warehouse, landing)
    assert sum(p.records_removed for p in purged) >= 2
    for path, data in before.items():
        after = path.read_bytes()
        assert person["email"].lower().encode() not in after.lower()
        assert person["contact_id"].encode() not in after
        if after != data and path.suffix == ".csv":
            kept = set(after.decode().splitlines())
            assert kept <= set(data.decode().splitlines()), "other lines stay byte for byte"
    assert not list(landing.rglob("*.bak"))


def test_consent_withdrawn_in_each_clean_way_reaches_no_destination(adversarial_run):
    run = adversarial_run
    withdrawn = {row["email"].lower() for row in run.clean.values()}
    for email in withdrawn:
        _never_exported_again(run, email)
    erased = run.clean["erasure"]["email"].lower()
    assert erased in run.fake.kl_deletions and erased in run.fake.hs_gdpr_deleted
    assert run.fake.requests("mailchimp", "POST", "delete-permanent")
    keys = ", ".join(repr(row["customer_key"]) for row in run.clean.values())
    statuses = _frame(
        run.warehouse,
        f"select customer_key, consent_status from marts.customer_profiles where customer_key in ({keys})",
    ).set_index("customer_key")["consent_status"]
    expected = {
        "unsubscribe": "unsubscribed",
        "complaint": "complained",
        "bounce": "bounced",
        "privacy_opt_out": "opted_out",
        "crm_opt_out": "not_opted_in",
        "invalid_email": "invalid_email",
    }
    assert {kind: statuses.get(run.clean[kind]["customer_key"]) for kind in expected} == expected
    assert run.clean["erasure"]["customer_key"] not in statuses.index
