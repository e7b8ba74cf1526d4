"""A sync process killed between batches, then run again, leaves the ESP exactly equal to the
audience: nobody missing, nobody twice, nobody left behind."""

from __future__ import annotations

import signal
import textwrap
import time

import pytest

from activation import sync_audiences
from tests.activation.helpers import (
    MEMBERSHIP_ADD,
    audience,
    email_of,
    fake_config,
    no_suppressions,
    small_batches,
    sql,
    sync_process,
)

SCRIPT = textwrap.dedent(
    """
    import sys

    import pandas as pd

    from activation import ActivationConfig, sync_audiences
    from tests.activation.helpers import no_suppressions, small_batches

    config = small_batches(ActivationConfig.from_env())
    sync_audiences(pd.read_parquet(sys.argv[1]), no_suppressions(), warehouse=sys.argv[2], config=config)
    """
)


@pytest.mark.slow  # a sync in a process of its own, killed and run again
@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo", "hubspot"])
def test_killed_between_batches_then_rerun_is_exact(fake, wh, tmp_path, esp):
    desired = audience(esp, "vip", range(50))
    source = tmp_path / "desired.parquet"
    desired.to_parquet(source)
    method, path = MEMBERSHIP_ADD[esp]
    # the third add is applied by the ESP, but the answer never comes: the worst moment to die
    hang = fake.inject("hang", esp=esp, method=method, path=path, after=2, apply=True, seconds=60)
    process = sync_process(tmp_path, SCRIPT, fake, esp, str(source), str(wh))
    try:
        assert hang.hit.wait(120), "the sync never reached the third batch"
        time.sleep(1.5)  # let the process record the second batch, whose answer it did get
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    synced = sql(wh, "SELECT count(*) FROM activation.sync_state WHERE NOT pending")[0][0]
    pending = sql(wh, "SELECT count(*) FROM activation.sync_state WHERE pending")[0][0]
    assert synced == 20 and pending == 30, "state is written per acknowledged batch, the rest is pending"
    assert {email_of(k) for k in range(20, 30)} <= fake.list_members(esp, "vip")
    # Between the crash and the re-run the audience moves on: two members of the batch the ESP
    # applied without telling us leave, one never-sent member leaves, five new ones arrive.
    fake.clear_faults()
    fake.release.set()
    keys = sorted((set(range(50)) - {22, 23, 45}) | set(range(60, 65)))
    config = small_batches(fake_config(fake, tmp_path / "files"))
    results = sync_audiences(audience(esp, "vip", keys), no_suppressions(), warehouse=wh, config=config)
    assert results[0].status == "success", results[0].line()
    expected = {email_of(k) for k in keys}
    assert fake.list_members(esp, "vip") == expected
    rows = sql(wh, "SELECT member_key, pending FROM activation.sync_state WHERE destination = ?", [esp])
    assert sorted(k for k, _ in rows) == sorted(expected)
    assert not any(p for _, p in rows)
    fake.reset_log()
    again = sync_audiences(audience(esp, "vip", keys), no_suppressions(), warehouse=wh, config=config)
    assert again[0].counts["unchanged"] == len(keys) and fake.request_count() == 0
