"""A sync process killed between batches, then run again, leaves the ESP exactly equal to the
audience: nobody missing, nobody twice, nobody left behind."""

from __future__ import annotations

import pytest

from activation import sync_audiences
from tests.activation.helpers import (
    MEMBERSHIP_ADD,
    audience,
    email_of,
    no_suppressions,
    sql,
    sync_killed_at,
)


@pytest.mark.slow  # a sync in a process of its own, killed and run again
@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo", "hubspot"])
def test_killed_between_batches_then_rerun_is_exact(fake, wh, small_config, tmp_path, esp):
    # the third add is applied by the ESP, but the answer never comes
    desired = audience(esp, "vip", range(50))
    sync_killed_at(fake, tmp_path, esp, desired, no_suppressions(), wh, call=MEMBERSHIP_ADD[esp], after=2)
    synced = sql(wh, "SELECT count(*) FROM activation.sync_state WHERE NOT pending")[0][0]
    pending = sql(wh, "SELECT count(*) FROM activation.sync_state WHERE pending")[0][0]
    assert synced == 20 and pending == 30, "state is written per acknowledged batch, the rest is pending"
    assert {email_of(k) for k in range(20, 30)} <= fake.list_members(esp, "vip")
    # Between the crash and the re-run the audience moves on: two members of the batch the ESP
    # applied without telling us leave, one never-sent member leaves, five new ones arrive.
    keys = sorted((set(range(50)) - {22, 23, 45}) | set(range(60, 65)))
    results = sync_audiences(audience(esp, "vip", keys), no_suppressions(), warehouse=wh, config=small_config)
    assert results[0].status == "success", results[0].line()
    expected = {email_of(k) for k in keys}
    assert fake.list_members(esp, "vip") == expected
    rows = sql(wh, "SELECT member_key, pending FROM activation.sync_state WHERE destination = ?", [esp])
    assert sorted(k for k, _ in rows) == sorted(expected)
    assert not any(p for _, p in rows)
    fake.reset_log()
    again = sync_audiences(audience(esp, "vip", keys), no_suppressions(), warehouse=wh, config=small_config)
    assert again[0].counts["unchanged"] == len(keys) and fake.request_count() == 0
