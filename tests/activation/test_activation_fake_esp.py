"""The fake ESP itself: standalone mode, auth checks and batch limits (a lenient fake would let
client bugs through)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from activation import ActivationConfig, sync_audiences
from fake_esp import md5
from tests.activation.helpers import audience, email_of, fake_env, no_suppressions

REPO = Path(__file__).resolve().parents[2]


def test_standalone_server_takes_a_whole_sync_through_env_vars(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "fake_esp", "--port", str(port)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        banner = [process.stdout.readline() for _ in range(8)]
        assert any(f"AW_MAILCHIMP_BASE_URL=http://127.0.0.1:{port}/mailchimp/3.0" in line for line in banner)
        env = dict(
            line.removeprefix("export ").strip().split("=", 1) for line in banner if line.startswith("export")
        )

        class Remote:
            def env(self):
                return env

        config = ActivationConfig.from_env(fake_env(Remote(), tmp_path / "files"))
        results = sync_audiences(
            audience("hubspot", "vip", range(7)),
            no_suppressions(),
            warehouse=tmp_path / "w.duckdb",
            config=config,
        )
        assert results[0].status == "success"
        stats = httpx.get(f"http://127.0.0.1:{port}/_fake/stats").json()
        assert stats["lists"]["hubspot"] == {"vip": 7}
    finally:
        process.terminate()
        process.wait(30)


def test_fake_checks_credentials_and_limits(fake):
    env = fake.env()
    wrong = httpx.post(
        f"{env['AW_MAILCHIMP_BASE_URL']}/lists/{env['AW_MAILCHIMP_AUDIENCE_ID']}",
        auth=("anystring", "not-the-key"),
        json={"members": []},
    )
    assert wrong.status_code == 401
    too_many = httpx.post(
        f"{env['AW_MAILCHIMP_BASE_URL']}/lists/{env['AW_MAILCHIMP_AUDIENCE_ID']}",
        auth=("anystring", env["AW_MAILCHIMP_API_KEY"]),
        json={"members": [{"email_address": email_of(i), "status_if_new": "subscribed"} for i in range(501)]},
    )
    assert too_many.status_code == 400
    no_revision = httpx.get(
        f"{env['AW_KLAVIYO_BASE_URL']}/api/lists",
        headers={"Authorization": f"Klaviyo-API-Key {env['AW_KLAVIYO_API_KEY']}"},
    )
    assert no_revision.status_code == 400
    hubspot = httpx.post(
        f"{env['AW_HUBSPOT_BASE_URL']}/crm/v3/objects/contacts/batch/upsert",
        headers={"Authorization": f"Bearer {env['AW_HUBSPOT_TOKEN']}"},
        json={"inputs": [{"idProperty": "email", "id": email_of(i), "properties": {}} for i in range(101)]},
    )
    assert hubspot.status_code == 400


@pytest.mark.parametrize("esp", ["mailchimp", "klaviyo", "hubspot"])
def test_a_client_with_the_wrong_key_fails_cleanly(fake, tmp_path, esp):
    variable = {
        "mailchimp": "AW_MAILCHIMP_API_KEY",
        "klaviyo": "AW_KLAVIYO_API_KEY",
        "hubspot": "AW_HUBSPOT_TOKEN",
    }
    wrong = {  # well-formed, so only the ESP can refuse them
        "mailchimp": "0123456789abcdef0123456789abcdef-us1",
        "klaviyo": "pk_0123456789abcdef0123456789abcdef01",
        "hubspot": "pat-na1-01234567-89ab-4cde-8f01-23456789abcd",
    }
    config = ActivationConfig.from_env(fake_env(fake, tmp_path / "files", **{variable[esp]: wrong[esp]}))
    started = time.monotonic()
    results = sync_audiences(
        audience(esp, "vip", range(3)), no_suppressions(), warehouse=tmp_path / "w.duckdb", config=config
    )
    assert results[0].status == "failed" and "401" in results[0].message
    assert time.monotonic() - started < 10  # a 401 is not retried
    assert fake.list_members(esp, "vip") == set()


def test_fake_suppression_endpoints_keep_status_and_validate_payloads(fake):
    """The ESP-side suppression calls: status per member, suppression flags, and the payload checks
    of the real APIs, so a client bug shows up as a 4xx here too."""
    env = fake.env()
    for esp in ("mailchimp", "klaviyo", "hubspot"):
        fake.seed_member(esp, email_of(1))
    fake.seed_member("mailchimp", email_of(2), status="cleaned")
    mailchimp = httpx.Client(
        base_url=f"{env['AW_MAILCHIMP_BASE_URL']}/lists/{env['AW_MAILCHIMP_AUDIENCE_ID']}/members",
        auth=("anystring", env["AW_MAILCHIMP_API_KEY"]),
    )
    klaviyo = httpx.Client(
        base_url=env["AW_KLAVIYO_BASE_URL"],
        headers={"Authorization": f"Klaviyo-API-Key {env['AW_KLAVIYO_API_KEY']}", "revision": "2024-10-15"},
    )
    hubspot = httpx.Client(
        base_url=env["AW_HUBSPOT_BASE_URL"], headers={"Authorization": f"Bearer {env['AW_HUBSPOT_TOKEN']}"}
    )
    try:
        unsubscribe = {"status": "unsubscribed"}
        assert mailchimp.patch(f"/{md5(email_of(1))}", json=unsubscribe).json()["status"] == "unsubscribed"
        assert fake.mailchimp_member(email_of(1))["status"] == "unsubscribed"
        assert mailchimp.patch(f"/{md5(email_of(9))}", json=unsubscribe).status_code == 404
        assert fake.mailchimp_member(email_of(9)) is None, "PATCH never creates a member"
        assert mailchimp.patch(f"/{md5(email_of(1))}", json={"status": "gone"}).status_code == 400
        assert mailchimp.patch(f"/{md5(email_of(2))}", json=unsubscribe).status_code == 400
        assert mailchimp.get(f"/{md5(email_of(2))}").json()["status"] == "cleaned"

        def job(emails, kind="profile-suppression-bulk-create-job"):
            profiles = [{"type": "profile", "attributes": {"email": e}} for e in emails]
            body = {"data": {"type": kind, "attributes": {"profiles": {"data": profiles}}}}
            return klaviyo.post("/api/profile-suppression-bulk-create-jobs", json=body)

        assert job([email_of(1)]).status_code == 202 and fake.klaviyo_suppressed(email_of(1))
        assert job([email_of(i) for i in range(101)]).status_code == 400
        assert job([email_of(3)], kind="profile-subscription-bulk-create-job").status_code == 400
        assert job(["not-an-email"]).status_code == 400
        assert job([email_of(4)]).status_code == 202
        assert fake.klaviyo_suppressed(email_of(4)), "like Klaviyo, an unknown address gets a new profile"
        found = klaviyo.get(
            "/api/profiles", params={"filter": f'any(email,["{email_of(1)}","{email_of(8)}"])'}
        )
        assert [p["attributes"]["email"] for p in found.json()["data"]] == [email_of(1)]

        opt_out = f"/communication-preferences/v4/statuses/{email_of(1)}/unsubscribe-all"
        assert hubspot.post(opt_out).status_code == 400, "channel is required"
        assert not fake.hubspot_opted_out(email_of(1))
        assert hubspot.post(opt_out, params={"channel": "EMAIL"}).status_code == 200
        assert fake.hubspot_opted_out(email_of(1))
    finally:
        for client in (mailchimp, klaviyo, hubspot):
            client.close()
