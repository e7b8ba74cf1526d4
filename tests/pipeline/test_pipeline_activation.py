"""Activation through the real Dagster assets: file audiences when no ESP is configured, and a diff
sync to the three fake ESPs that a second run leaves untouched. Consent withdrawn between two runs,
by every route a person can take, is tested with the adversarial cases
(test_pipeline_consent_adversarial.py), in the same second run."""

from __future__ import annotations

import duckdb
import pandas as pd

from activation.config import ESP_NAMES
from fake_esp import FakeESP
from tests.pipeline.helpers import (
    copy_run,
    failure_messages,
    materialize,
)


def _frame(warehouse, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def _treatment(warehouse) -> pd.DataFrame:
    """Every member of every arm but control: the people the lists must hold, with their arm."""
    return _frame(
        warehouse,
        "select destination, list_key, customer_key, email, holdout_arm from restricted.audience_export "
        "where holdout_arm <> 'control'",
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
    return {
        (d, name): fake.list_members(d, name) for d, name in lists.itertuples(index=False) if d in ESP_NAMES
    }


def test_without_an_esp_the_run_writes_file_audiences(demo_run):
    treatment = _treatment(demo_run.warehouse)
    assert set(treatment.destination) == set(ESP_NAMES)
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
        _assert_arms_reach_mailchimp_as_a_merge_field(fake, _treatment(warehouse))

        fake.reset_log()
        second = materialize(groups=("activation",), as_of=demo_run.as_of.isoformat())
        assert second.success, failure_messages(second)
        assert fake.request_count() == 0
        assert _esp_lists(fake, warehouse) == expected


def _assert_arms_reach_mailchimp_as_a_merge_field(fake: FakeESP, treated: pd.DataFrame) -> None:
    """The arm SQL decided, content-test variants included, is each member's HOLDOUT_AR merge field.
    Merge fields belong to the contact, so a person in two lists holds one of their two arms."""
    treated = treated[treated["destination"] == "mailchimp"]
    assert {"we_miss_you", "whats_new", "preferred_hour", "morning"} <= set(treated["holdout_arm"])
    arms = treated.groupby("email")["holdout_arm"].agg(set)
    seen = {email: fake.mailchimp_member(email)["merge_fields"].get("HOLDOUT_AR") for email in arms.index}
    assert all(seen[email] in arms[email] for email in arms.index)
    one_list = {email for email in arms.index if len(arms[email]) == 1}
    variants = {seen[email] for email in one_list} - {"treatment"}
    assert variants and variants <= {
        "we_miss_you",
        "whats_new",
        "preferred_hour",
        "morning",
        "model_picks",
        "no_picks",
    }
