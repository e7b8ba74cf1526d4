"""Builders shared by the activation tests: audiences, suppressions and a config for the fake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import jinja2
import numpy as np
import pandas as pd

from activation.config import ActivationConfig
from warehouse.context import PROJECT_DIR

SUPPRESSION_COLUMNS = ["email", "customer_key", "reason"]
# The request each ESP's destination adds list members with: (method, path pattern), for faults
# and kills injected at that step.
MEMBERSHIP_ADD = {
    "mailchimp": ("POST", r"/segments/\d+$"),
    "klaviyo": ("POST", r"^/api/profile-bulk-import-jobs$"),
    "hubspot": ("PUT", r"memberships/add$"),
}
HOLDOUT_MACROS = PROJECT_DIR / "macros" / "run" / "holdout.sql"


def products(n: int = 2, seed: int = 0) -> str:
    return json.dumps(
        [
            {
                "product_id": f"SKU-{seed + i:05d}",
                "name": f"Product {seed + i}",
                "image_url": f"https://img.example.com/{seed + i}.png",
                "price": 10.0 + i,
            }
            for i in range(n)
        ]
    )


def audience(
    destination: str,
    list_key: str,
    keys: range | list[int],
    *,
    campaign_key: str | None = None,
    offer: str = "10% off",
    holdout_share: float = 0.0,
    holdout_salt: str = "audience-warehouse",
    arm_ranges: list[tuple[str, float, float]] | None = None,
) -> pd.DataFrame:
    """Rows as restricted.audience_export has them: valid addresses and, with a campaign, the
    holdout arm SQL assigns (macros/run/holdout.sql) for that share and salt, and content-test arms
    (arm, bucket_from, bucket_to) as int_campaign_arm_ranges gives them."""
    keys = list(keys)
    frame = pd.DataFrame(
        {
            "destination": destination,
            "list_key": list_key,
            "campaign_key": campaign_key,
            "customer_key": [f"c{k:07d}" for k in keys],
            "email": [f"user{k:07d}@example.com" for k in keys],
            "is_email_valid": True,
            "first_name": [f"First{k}" for k in keys],
            "last_name": [f"Last{k}" for k in keys],
            "rfm_segment": ["Champions" if k % 3 == 0 else "At Risk" for k in keys],
            "cluster_name": "bargain_hunters",
            "loyalty_tier": ["gold" if k % 2 else "silver" for k in keys],
            "offer": offer,
            "preferred_send_hour": [k % 24 for k in keys],
            "recommended_products": [products(2, k) for k in keys],
        }
    )
    if not campaign_key:
        return frame
    return with_holdout(frame, share=holdout_share, salt=holdout_salt, arm_ranges=arm_ranges)


class _Exceptions:
    """dbt's `exceptions` as the macros use it."""

    @staticmethod
    def raise_compiler_error(message: str):
        raise ValueError(message)


def holdout_macros(salt: str, share: float):
    """The project's holdout macros (macros/run/holdout.sql) rendered as dbt renders them for
    DuckDB with these vars: the tests assign arms with the one implementation there is."""
    variables = {"holdout_salt": salt, "holdout_share": share}
    template = jinja2.Environment().from_string(HOLDOUT_MACROS.read_text())
    return template.make_module({"var": variables.__getitem__, "exceptions": _Exceptions})


def with_holdout(
    frame: pd.DataFrame,
    *,
    share: float,
    salt: str = "audience-warehouse",
    arm_ranges: list[tuple[str, float, float]] | None = None,
) -> pd.DataFrame:
    """The frame with the holdout columns audience_candidates adds: the macro's bucket and share,
    the macro's arm (control below the share, else the content-test arm whose range holds the
    bucket, else treatment), and the hash version."""
    macros = holdout_macros(salt, share)
    ranges = " ".join(
        f"WHEN bucket >= {start} AND bucket < {end} THEN '{arm}'" for arm, start, end in arm_ranges or []
    )
    variant = f"CASE {ranges} END" if ranges else "NULL"
    with duckdb.connect() as con:
        members = frame[["campaign_key", "customer_key"]].reset_index(drop=True)
        con.register("members", members.assign(position=range(len(members))))
        assigned = con.execute(
            f"""SELECT bucket, share, {macros.holdout_arm("bucket", variant)} AS arm,
                       {macros.holdout_hash_version()} AS version
                FROM (SELECT position,
                             {macros.duckdb__holdout_bucket("campaign_key", "customer_key")} AS bucket,
                             {macros.holdout_share()} AS share
                      FROM members)
                ORDER BY position"""
        ).df()
    return frame.assign(
        holdout_arm=assigned["arm"].to_numpy(),
        holdout_bucket=assigned["bucket"].to_numpy(),
        holdout_share=assigned["share"].to_numpy(),
        holdout_hash_version=assigned["version"].to_numpy(),
    )


def email_of(key: int) -> str:
    return f"user{key:07d}@example.com"


def no_suppressions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SUPPRESSION_COLUMNS})


def suppressions(rows: list[tuple[str | None, str | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SUPPRESSION_COLUMNS)


def fake_env(fake, files: Path, **extra: str) -> dict[str, str]:
    env = {
        **fake.env(),
        "AW_ACTIVATION_FILE_DIR": str(files),
        "AW_ACTIVATION_BACKOFF_SECONDS": "0.01",
        "AW_KLAVIYO_POLL_SECONDS": "0.01",
    }
    for esp in ("MAILCHIMP", "KLAVIYO", "HUBSPOT"):
        env[f"AW_{esp}_TIMEOUT"] = "2"
        env[f"AW_{esp}_RPS"] = "0"
        env[f"AW_{esp}_MAX_ATTEMPTS"] = "5"
    env.update(extra)
    return env


# A sync of the audience and suppressions in two Parquet files, with small batches, in a process
# of its own: python run_sync.py <audience> <suppressions> <warehouse>.
SYNC_SCRIPT = textwrap.dedent(
    """
    import sys

    import pandas as pd

    from activation import ActivationConfig, sync_audiences
    from tests.activation.helpers import small_batches

    config = small_batches(ActivationConfig.from_env())
    desired, supp = pd.read_parquet(sys.argv[1]), pd.read_parquet(sys.argv[2])
    sync_audiences(desired, supp, warehouse=sys.argv[3], config=config)
    """
)


def sync_killed_at(
    fake, tmp_path: Path, esp: str, desired: pd.DataFrame, supp: pd.DataFrame, wh: Path, *, call, after: int
) -> None:
    """Sync in a process of its own (one request at a time, a long timeout) until the ESP applies
    the `after`+1-th request matching `call` (method, path pattern) but never answers it: the worst
    moment to die. The process gets time to record what it did hear back about, is killed, and the
    fake stops hanging, so the test can look at what was left and sync again."""
    desired.to_parquet(tmp_path / "desired.parquet")
    supp.to_parquet(tmp_path / "supp.parquet")
    method, path = call
    hang = fake.inject("hang", esp=esp, method=method, path=path, after=after, apply=True, seconds=60)
    script = tmp_path / "run_sync.py"
    script.write_text(SYNC_SCRIPT)
    env = {
        **os.environ,
        **fake_env(fake, tmp_path / "files"),
        f"AW_{esp.upper()}_MAX_CONCURRENCY": "1",
        f"AW_{esp.upper()}_TIMEOUT": "120",
        "PYTHONPATH": str(PROJECT_DIR),
    }
    arguments = [str(tmp_path / "desired.parquet"), str(tmp_path / "supp.parquet"), str(wh)]
    process = subprocess.Popen([sys.executable, str(script), *arguments], env=env, cwd=PROJECT_DIR)
    try:
        deadline = time.monotonic() + 120
        while not hang.hit.is_set() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hang.hit.is_set(), f"the sync never reached {method} {path} number {after + 1}"
        time.sleep(1.5)  # let the process record the batches it did hear back about
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    assert process.returncode == -signal.SIGKILL
    fake.clear_faults()
    fake.release.set()


def fake_config(fake, files: Path, **extra: str) -> ActivationConfig:
    return ActivationConfig.from_env(fake_env(fake, files, **extra))


def small_batches(config: ActivationConfig, size: int = 10) -> ActivationConfig:
    """The same config with tiny batches, so a few dozen members make several batches."""
    from dataclasses import replace

    return replace(
        config,
        mailchimp=config.mailchimp and replace(config.mailchimp, batch_size=size, segment_batch_size=size),
        klaviyo=config.klaviyo
        and replace(config.klaviyo, import_batch_size=size, list_batch_size=size, page_size=5),
        hubspot=config.hubspot and replace(config.hubspot, upsert_batch_size=size, list_batch_size=size),
    )


def keys_of(emails: set[str]) -> set[int]:
    return {int(e[4:11]) for e in emails}


def sql(warehouse: Path, query: str, params: list | None = None) -> list[tuple]:
    """Read the warehouse the way an analyst would (read-only, closed at once)."""
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def erasure_targets(*keys: int) -> pd.DataFrame:
    """What restricted.erasure_targets hands the erasure step: addresses and their tombstone hash."""
    return pd.DataFrame({"email": [email_of(k) for k in keys], "email_hash": [f"hash-{k}" for k in keys]})


def plant_tombstones(warehouse: Path, emails: list[str]) -> None:
    """The two objects dbt builds for erasure (privacy.erasure_tombstones and the function
    privacy.erasure_hash), with a stand-in hash: the engine only asks which addresses match."""
    import duckdb

    with duckdb.connect(str(warehouse)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS privacy")
        con.execute(
            "CREATE OR REPLACE MACRO privacy.erasure_hash(identifier_type, identifier_value) AS "
            "sha256('test-salt:' || identifier_type || ':' || identifier_value)"
        )
        con.execute(
            "CREATE OR REPLACE TABLE privacy.erasure_tombstones AS "
            "SELECT 'email' AS identifier_type, privacy.erasure_hash('email', email) AS identifier_hash "
            "FROM (SELECT unnest(?::VARCHAR[]) AS email)",
            [emails],
        )


def content_test(n_per_campaign: int = 3000) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two campaigns (segments) in one content test: control, `models` (the model's picks) and
    `generic` (the baseline, no picks); models converts best, generic a little above control."""
    rng = np.random.default_rng(17)
    rates = {"control": 0.04, "generic": 0.05, "models": 0.08}
    assignments, purchases, layout = [], [], []
    for campaign, segment in (("browse", "browse_abandoners"), ("lapsing", "at_risk_lapsing")):
        buckets = rng.random(n_per_campaign)
        arms = np.select([buckets < 0.2, buckets < 0.6], ["control", "models"], "generic")
        keys = [f"{campaign}{i}" for i in range(n_per_campaign)]
        assignments.append(
            pd.DataFrame(
                {
                    "campaign_key": campaign,
                    "customer_key": keys,
                    "arm": arms,
                    "first_assigned_at": "2026-04-01",
                }
            )
        )
        bought = rng.random(n_per_campaign) < np.vectorize(rates.get)(arms)
        purchases.append(
            pd.DataFrame(
                {
                    "customer_key": np.array(keys)[bought],
                    "ordered_at": pd.Timestamp("2026-04-05"),
                    "revenue": rng.gamma(2.0, 25.0, int(bought.sum())),
                }
            )
        )
        for order, (arm, start, end, baseline) in enumerate(
            (("control", 0, 0.2, False), ("models", 0.2, 0.6, False), ("generic", 0.6, 1.0, True))
        ):
            layout.append(
                {
                    "campaign_key": campaign,
                    "segment_name": segment,
                    "test_key": "picks",
                    "arm": arm,
                    "arm_order": order,
                    "bucket_from": start,
                    "bucket_to": end,
                    "is_baseline": baseline,
                }
            )
    assignments = pd.concat(assignments, ignore_index=True).astype({"first_assigned_at": "datetime64[ns]"})
    return assignments, pd.concat(purchases, ignore_index=True), pd.DataFrame(layout)
