"""The pure rules of a sync (activation/plan.py): the diff against the state, the volume guard and
the ESP-wide suppression plan, on DataFrames alone, without a warehouse or a destination."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from activation.audience import SuppressionIndex, prepare_audience
from activation.plan import VolumeGuard, _is_in, consent_only, plan_list, suppression_plan
from activation.routing import ESP_WIDE, Route
from tests.activation.helpers import audience, email_of, no_suppressions, suppressions

ROUTE = Route("mailchimp", "vip", "mailchimp", "vip")
GUARD = VolumeGuard(max_shrink_share=0.2, min_members=25)


def _prepared(keys, supp: pd.DataFrame | None = None, **changes):
    frame = audience("mailchimp", "vip", keys)
    for column, value in changes.items():
        frame[column] = value
    return prepare_audience(
        frame, "mailchimp", "vip", SuppressionIndex(supp if supp is not None else no_suppressions())
    )


def _state(prepared, keys=None, *, created_by_us=True, pending=False, hashes=None) -> pd.DataFrame:
    """The sync state as if `keys` (default: every eligible member) had been synced as they are."""
    eligible = prepared.eligible.set_index("member_key")
    members = [email_of(k) for k in keys] if keys is not None else list(eligible.index)
    return pd.DataFrame(
        {
            "member_key": members,
            "customer_key": [f"c{int(m[4:11]):07d}" for m in members],
            "esp_record_id": None,
            "payload_hash": hashes or [eligible["payload_hash"].get(m, "old") for m in members],
            "created_by_us": created_by_us,
            "pending": pending,
        }
    )


def _plan(prepared, state, supp=None, *, force=False, guard=GUARD):
    index = SuppressionIndex(supp if supp is not None else no_suppressions())
    return plan_list(ROUTE, prepared, state, index, guard, force=force)


def _keys(frame: pd.DataFrame) -> set[int]:
    return {int(m[4:11]) for m in frame["member_key"]}


def test_a_new_member_is_created_and_a_changed_one_updated():
    before = _prepared(range(5))
    after = _prepared(range(6), offer=["10% off"] * 2 + ["changed"] + ["10% off"] * 2 + ["new"])
    plan = _plan(after, _state(before))
    assert _keys(plan.creates) == {5}
    assert _keys(plan.updates) == {2}
    assert plan.unchanged == 4 and not plan.is_empty


def test_an_unchanged_audience_plans_nothing():
    prepared = _prepared(range(10))
    plan = _plan(prepared, _state(prepared))
    assert plan.is_empty and plan.unchanged == 10
    assert plan.counts() == {
        "rows_in": 10,
        "eligible": 10,
        "excluded": 0,
        "creates": 0,
        "updates": 0,
        "removes": 0,
        "releases": 0,
        "unchanged": 10,
        "consent_removes": 0,
    }


def test_a_pending_member_is_created_again_even_when_its_payload_is_the_same():
    prepared = _prepared(range(3))
    plan = _plan(prepared, _state(prepared, pending=True))
    assert _keys(plan.creates) == {0, 1, 2} and plan.updates.empty and plan.unchanged == 0


def test_a_member_who_left_the_audience_is_removed_once():
    prepared = _prepared(range(10))
    plan = _plan(_prepared(range(9)), _state(prepared))
    assert _keys(plan.removes) == {9} and plan.releases.empty
    assert plan.removes["consent"].tolist() == [False]


def test_a_member_someone_else_added_is_released_not_removed():
    prepared = _prepared(range(3))
    plan = _plan(_prepared(range(2)), _state(prepared, created_by_us=False))
    assert plan.removes.empty and _keys(plan.releases) == {2}


def test_a_pending_member_no_longer_wanted_is_removed_like_one_of_ours():
    prepared = _prepared(range(3))
    plan = _plan(_prepared(range(2)), _state(prepared, created_by_us=None, pending=True))
    assert _keys(plan.removes) == {2}


def test_a_list_losing_more_than_the_limit_is_refused_unless_forced():
    state = _state(_prepared(range(100)))
    plan = _plan(_prepared(range(70)), state)
    assert plan.refused and plan.shrink_share == pytest.approx(0.3)
    assert (
        plan.guard_message == "volume guard: 30 of 100 members (30.0%) would leave vip, above the 20% limit"
    )
    forced = _plan(_prepared(range(70)), state, force=True)
    assert not forced.refused and forced.guard_message.endswith("; forced")


def test_a_shrink_within_the_limit_goes_through():
    plan = _plan(_prepared(range(80)), _state(_prepared(range(100))))
    assert not plan.refused and plan.guard_message == "" and len(plan.removes) == 20


def test_a_small_list_may_empty_without_tripping_the_guard():
    plan = _plan(_prepared([]), _state(_prepared(range(24))))
    assert not plan.refused and len(plan.removes) == 24


def test_an_emptied_audience_is_refused_once_enough_members_would_leave():
    plan = _plan(_prepared([]), _state(_prepared(range(25))))
    assert plan.refused and plan.guard_message.endswith("(the audience is empty)")


def test_consent_removals_never_count_against_the_guard():
    supp = suppressions([(email_of(k), None, "unsubscribed") for k in range(40)])
    prepared = _prepared(range(100), supp)
    plan = _plan(prepared, _state(_prepared(range(100))), supp)
    assert not plan.refused
    assert plan.consent_removes == 40 and len(plan.removes) == 40
    assert plan.counts()["excluded"] == 40


def test_a_refused_plan_still_lets_its_consent_removals_through():
    supp = suppressions([(email_of(k), None, "opted_out") for k in range(5)])
    plan = _plan(_prepared(range(5, 60), supp), _state(_prepared(range(100))), supp)
    assert plan.refused and plan.consent_removes == 5
    allowed = consent_only(plan)
    assert _keys(allowed.removes) == set(range(5))
    assert allowed.creates.empty and allowed.updates.empty and allowed.releases.empty


def test_the_volume_guard_check_reads_as_its_rule():
    guard = VolumeGuard(max_shrink_share=0.5, min_members=2)
    assert guard.check("l", size=10, leaving=5, remaining=5) == ""
    assert guard.check("l", size=10, leaving=6, remaining=4).startswith("volume guard: 6 of 10")
    assert guard.check("l", size=10, leaving=1, remaining=0) == ""
    assert guard.check("l", size=0, leaving=0, remaining=0) == ""


def _esp_state(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["list_key", "member_key", "customer_key", "esp_record_id", "pending"])


def test_an_address_in_several_lists_is_suppressed_once_with_the_record_id_of_any():
    state = _esp_state(
        [
            ("vip", email_of(1), "c0000001", None, False),
            ("news", email_of(1), "c0000001", "id-1", False),
            ("news", email_of(2), "c0000002", None, False),
        ]
    )
    index = SuppressionIndex(suppressions([(email_of(1), None, "complained")]))
    wanted, stale = suppression_plan(state, index)
    assert wanted[["member_key", "esp_record_id", "reason"]].values.tolist() == [
        [email_of(1), "id-1", "complained"]
    ]
    assert stale.empty


def test_an_acknowledged_suppression_is_not_sent_again_and_a_pending_one_is():
    state = _esp_state(
        [
            ("vip", email_of(1), "c0000001", None, False),
            (ESP_WIDE, email_of(1), "c0000001", None, False),
            ("vip", email_of(2), "c0000002", None, False),
            (ESP_WIDE, email_of(2), "c0000002", None, True),
        ]
    )
    index = SuppressionIndex(suppressions([(email_of(1), None, "bounced"), (None, "c0000002", "bounced")]))
    wanted, stale = suppression_plan(state, index)
    assert list(wanted["member_key"]) == [email_of(2)] and stale.empty


def test_a_person_no_longer_suppressed_loses_the_suppression_row():
    state = _esp_state(
        [("vip", email_of(1), "c0000001", None, False), (ESP_WIDE, email_of(1), "c0000001", None, False)]
    )
    wanted, stale = suppression_plan(state, SuppressionIndex(no_suppressions()))
    assert wanted.empty and list(stale["member_key"]) == [email_of(1)]


@pytest.mark.parametrize("dtype", [object, "string", "str"])
def test_member_keys_are_looked_up_as_pandas_isin_would_and_a_missing_key_is_in_nothing(dtype):
    values = pd.Series(["a@x.com", "b@x.com", None, "c@x.com", "a@x.com"], dtype=dtype)
    candidates = pd.Series(["c@x.com", None, "a@x.com"], dtype=dtype)
    assert _is_in(values, candidates).tolist() == [True, False, False, True, True]
    assert _is_in(values, candidates.iloc[0:0]).tolist() == [False] * 5
    assert _is_in(values.iloc[0:0], candidates).tolist() == []


def test_an_arrow_state_plans_as_the_same_state_as_a_frame_would():
    supp = suppressions([(email_of(11), None, "unsubscribed")])
    before = _prepared(range(14))
    after = _prepared(range(2, 12), supp, offer=["changed"] + ["10% off"] * 9)
    state = _state(before).astype({"created_by_us": object, "esp_record_id": object})
    state.loc[state["member_key"] == email_of(4), "pending"] = True
    state.loc[state["member_key"].isin([email_of(0), email_of(12)]), "created_by_us"] = None
    state.loc[state["member_key"] == email_of(5), "esp_record_id"] = "id-5"
    from_frame = _plan(after, state, supp)
    from_arrow = _plan(after, pa.Table.from_pandas(state, preserve_index=False), supp)
    assert _keys(from_frame.creates) == {4} and _keys(from_frame.updates) == {2}
    assert _keys(from_frame.removes) == {1, 11, 13} and _keys(from_frame.releases) == {0, 12}
    assert from_frame.unchanged == 7 and from_frame.consent_removes == 1
    assert from_frame.counts() == from_arrow.counts()
    for name in ("creates", "updates", "removes", "releases"):
        assert getattr(from_frame, name).equals(getattr(from_arrow, name)), name
    assert from_frame.creates["_merge"].tolist() == ["both"]
    assert from_frame.creates["pending"].tolist() == [True]
