"""Key leaks (issue 8, "Secrets"): known keys are planted in every error path — ESP bodies that echo
them whole, cut at 300 characters across the key, split in pieces, response headers, per-row
rejections, transport errors until retries run out — and no piece of 8 or more characters of any
key may reach an exception, a log record, stderr/stdout, activation.sync_runs, sync_results or
erasure_log, or the Dagster export asset's metadata. Also: the redaction itself, and the key
formats activation.config accepts before any key is used."""

from __future__ import annotations

import base64
import json
import logging
import random
import sys
import traceback

import dagster as dg
import duckdb
import pandas as pd
import pytest

from activation import ActivationConfig, ConfigError, ESPRequestError, propagate_erasures, sync_audiences
from activation.config import ESP_NAMES, HttpSettings
from activation.destinations.klaviyo import KlaviyoDestination
from activation.errors import redact
from activation.http import ApiClient
from fake_esp import FakeESP
from orchestration.assets.activation import export_assets
from orchestration.resources import WarehouseResource
from tests.activation.helpers import (
    audience,
    email_of,
    erasure_targets,
    fake_env,
    no_suppressions,
    small_batches,
    sql,
)

MAILCHIMP_KEY = "e4b9856a9838a408e8666af7c249b9b6-us21"
KLAVIYO_KEY = "pk_c1a1336f9112f1a2334bb233b26e3a7105"
HUBSPOT_TOKEN = "pat-eu1-f74ae798-dc2b-4264-8085-f032ae3b9896"
MAILCHIMP_BASIC = base64.b64encode(f"anystring:{MAILCHIMP_KEY}".encode()).decode()
KEYS = {"mailchimp": MAILCHIMP_KEY, "klaviyo": KLAVIYO_KEY, "hubspot": HUBSPOT_TOKEN}
PLANTED = (MAILCHIMP_KEY, KLAVIYO_KEY, HUBSPOT_TOKEN, MAILCHIMP_BASIC)
PIECE = 8


PIECES = {key[i : i + PIECE] for key in PLANTED for i in range(len(key) - PIECE + 1)}


def leaks(text: str) -> list[str]:
    """The 8-character pieces of a planted key found in `text`; any longer piece contains one."""
    return sorted(piece for piece in PIECES if piece in text)


def assert_no_leak(outputs: dict[str, str]) -> None:
    found = {name: leaks(text) for name, text in outputs.items()}
    leaking = {name: len(pieces) for name, pieces in found.items() if pieces}
    assert not leaking, f"pieces of a key (count per output) in {leaking}"


def cut_body(key: str, before_cut: int = 20) -> dict:
    """An error body whose text puts the key across character 300, `before_cut` characters of it
    in front: cutting first and redacting after would keep those characters."""
    prefix = len(json.dumps({"detail": ""})) - 2
    body = {"detail": "x" * (300 - before_cut - prefix) + key}
    assert json.dumps(body).index(key) == 300 - before_cut
    return body


def split_body(key: str) -> dict:
    """The key echoed in three pieces of 12+ characters, across a line break and a space."""
    return {"detail": f"invalid credentials {key[:12]}\n{key[12:24]} {key[24:]}"}


def plant(fake: FakeESP) -> None:
    """Faults that put each ESP's own key into every kind of answer the clients read. Lists sync in
    name order, so `gold` meets the list-lookup fault first and fails as a whole (its error goes
    to sync_runs.message); `vip` meets the batch faults (their errors go to sync_results.reason)."""
    lookup = {"mailchimp": r"/segments$", "klaviyo": r"/api/lists$", "hubspot": r"/name/gold$"}
    upsert = {
        "mailchimp": r"/lists/aud0001$",
        "klaviyo": r"/profile-bulk-import-jobs$",
        "hubspot": r"/upsert$",
    }
    add = {"mailchimp": r"/segments/\d+$", "klaviyo": r"/import-errors$", "hubspot": r"/memberships/add$"}
    erase = {
        "mailchimp": r"/delete-permanent$",
        "klaviyo": r"/data-privacy-deletion-jobs$",
        "hubspot": r"/gdpr-delete$",
    }
    for esp, key in KEYS.items():
        fake.inject("status", esp=esp, method="GET", path=lookup[esp], status=400, body=cut_body(key))
        fake.inject("status", esp=esp, method="POST", path=upsert[esp], status=400, body=split_body(key))
        fake.inject(
            "status", esp=esp, path=upsert[esp], status=429, headers={"Retry-After": key, "X-Echo": key}
        )
        fake.inject("status", esp=esp, path=upsert[esp], status=503, body={"detail": key})
        fake.inject("status", esp=esp, path=add[esp], status=400, echo_auth=True)
        fake.inject("drop", esp=esp, path=add[esp], times=5)
        fake.inject("status", esp=esp, path=erase[esp], status=400, body=cut_body(key, before_cut=30))
        fake.reject(esp, [email_of(k) for k in range(0, 40, 3)], f"rejected: credentials {key} are wrong")
        fake.reject(esp, [email_of(k) for k in range(1, 40, 3)], split_body(key)["detail"])


def planted_fake() -> FakeESP:
    return FakeESP(mailchimp_key=MAILCHIMP_KEY, klaviyo_key=KLAVIYO_KEY, hubspot_token=HUBSPOT_TOKEN)


def planted_env(fake: FakeESP, tmp_path) -> dict[str, str]:
    # one request at a time, so the faults meet the requests in a known order
    return fake_env(
        fake,
        tmp_path / "files",
        **{f"AW_{esp.upper()}_MAX_CONCURRENCY": "1" for esp in ESP_NAMES},
    )


def desired() -> pd.DataFrame:
    return pd.concat(
        audience(esp, name, range(size), campaign_key=f"{esp}-{name}")
        for esp in ESP_NAMES
        for name, size in (("gold", 5), ("vip", 40))
    )


def tables(warehouse) -> dict[str, str]:
    return {
        f"activation.{table}": str(sql(warehouse, f"SELECT * FROM activation.{table}"))
        for table in ("sync_runs", "sync_results", "sync_state", "erasure_log", "destination_lists")
    }


def test_a_planted_key_reaches_no_exception_log_output_or_table(wh, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    stderr = logging.StreamHandler(sys.stderr)
    logging.getLogger("activation").addHandler(stderr)
    outputs: dict[str, str] = {}
    try:
        with planted_fake() as fake:
            plant(fake)
            config = small_batches(ActivationConfig.from_env(planted_env(fake, tmp_path)))
            results = sync_audiences(desired(), no_suppressions(), warehouse=wh, config=config)
            erased = propagate_erasures(erasure_targets(40), warehouse=wh, config=config)

            fake.inject("status", esp="klaviyo", path=r"/api/lists$", status=400, body=cut_body(KLAVIYO_KEY))
            klaviyo = KlaviyoDestination(config.klaviyo)
            with pytest.raises(ESPRequestError) as refused:
                klaviyo.ensure_list("direct", None)
            klaviyo.close()
            fake.inject("drop", esp="hubspot", times=5)
            client = ApiClient(
                "hubspot",
                f"{fake.url}/hubspot",
                HttpSettings(max_attempts=5, backoff_initial=0.01, backoff_max=0.01),
                headers={"Authorization": f"Bearer {HUBSPOT_TOKEN}"},
                secrets=(HUBSPOT_TOKEN,),
            )
            with pytest.raises(ESPRequestError) as exhausted:
                client.request("POST", "/crm/v3/objects/contacts/batch/upsert", json={"inputs": []})
            client.close()
            unhit = [f for f in fake.faults if not f.hit.is_set()]
    finally:
        logging.getLogger("activation").removeHandler(stderr)

    assert unhit == [], "every planted fault should have been met"
    for error in (refused.value, exhausted.value):
        outputs[f"exception {error.esp}"] = str(error) + repr(error.args)
        outputs[f"traceback {error.esp}"] = "".join(traceback.format_exception(error))
    outputs["results"] = repr(results) + "".join(r.line() for r in results)
    outputs["erasure report"] = erased.to_string()
    outputs["config"] = repr(config) + str(config)
    outputs["log records"] = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    outputs["log text"] = caplog.text
    captured = capfd.readouterr()
    outputs["stdout"], outputs["stderr"] = captured.out, captured.err
    outputs.update(tables(wh))

    messages = {(r.destination, r.list_key): r.message for r in results}
    reasons = " ".join(str(row) for row in sql(wh, "SELECT reason FROM activation.sync_results"))
    for esp in ESP_NAMES:
        assert "answered 400" in messages[(esp, "gold")], (
            "the list lookup's error should be the run's message"
        )
        assert messages[(esp, "gold")] in outputs["activation.sync_runs"]
    assert reasons.count("answered 400") >= 6, "both echoing batch errors of each ESP should be reasons"
    assert "failed after 5 attempts" in reasons + str(exhausted.value)
    assert reasons.count("rejected") >= 3, "the per-row rejections should be reasons"
    assert "answered 400" in outputs["activation.erasure_log"]
    assert "retrying" in outputs["stderr"] and "retrying" in outputs["log records"]
    assert_no_leak(outputs)


def test_the_export_asset_metadata_and_logs_hold_no_key(tmp_path, monkeypatch, capfd):
    warehouse = tmp_path / "warehouse.duckdb"
    members = desired().assign(as_of=pd.Timestamp("2026-06-30"))
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema restricted")
        con.register("members", members)
        con.execute("create table restricted.audience_export as select * from members")
        con.execute(
            "create table restricted.suppressed_addresses "
            "(email varchar, customer_key varchar, reason varchar)"
        )
        con.execute("create table restricted.erasure_targets (email varchar, email_hash varchar)")
    with planted_fake() as fake:
        plant(fake)
        for name, value in planted_env(fake, tmp_path).items():
            monkeypatch.setenv(name, value)
        result = dg.materialize(
            [asset for asset in export_assets if asset.key.path[-1] != "export_file"],
            resources={"warehouse": WarehouseResource(warehouse_path=str(warehouse))},
            raise_on_error=False,
        )
    assert not result.success, "the failed gold lists should fail the export assets"
    failures = result.get_step_failure_events()
    assert len(failures) == 3
    outputs = {
        "failure": "\n".join(repr(event.event_specific_data) for event in failures),
        "events": "\n".join(repr(event) for event in result.all_events),
    }
    assert all("answered 400" in repr(e.event_specific_data) for e in failures)
    captured = capfd.readouterr()
    outputs["stdout"], outputs["stderr"] = captured.out, captured.err
    outputs.update(tables(warehouse))
    assert_no_leak(outputs)


@pytest.mark.parametrize("before_cut", [1, 7, 8, 20])
def test_an_error_body_is_redacted_whole_before_it_is_cut_to_300_characters(fake, before_cut):
    key = fake.klaviyo_key
    body = cut_body(key, before_cut)
    fake.inject("status", esp="klaviyo", status=400, body=body)
    client = ApiClient("klaviyo", f"{fake.url}/klaviyo", HttpSettings(max_attempts=1), secrets=(key,))
    with pytest.raises(ESPRequestError) as raised:
        client.request("GET", "/api/lists")
    client.close()
    # cut first, the key's first characters would end the message (fewer than 8: no piece to mask)
    expected = redact(json.dumps(body), [key])[:300]
    assert str(raised.value) == f"klaviyo GET /api/lists answered 400: {expected}"


# the redaction --------------------------------------------------------------------------------------


def _brute_force(text: str, secrets: tuple[str, ...]) -> list[bool]:
    """Which characters of `text` lie in a piece of 8 or more characters of a secret."""
    covered = [False] * len(text)
    for secret in secrets:
        for start in range(len(text)):
            for end in range(start + PIECE, len(text) + 1):
                if text[start:end] in secret:
                    covered[start:end] = [True] * (end - start)
    return covered


def test_redact_masks_the_whole_key_and_any_piece_of_8_or_more_characters():
    key = MAILCHIMP_KEY
    assert redact(f"key={key}.", [key]) == "key=***."
    for size in range(PIECE, len(key) + 1):
        for start in range(len(key) - size + 1):
            piece = key[start : start + size]
            assert redact(f"a {piece} b", [key]) == "a *** b", piece
    seven = key[:7]
    assert redact(f"a {seven} b", [key]) == f"a {seven} b", "shorter pieces are not evidence of a key"
    assert not leaks(redact(split_body(key)["detail"], [key]))
    assert redact(key[:20] + "\n" + key[20:], [key]) == "***\n***"
    text = json.dumps(cut_body(key))
    assert not leaks(redact(text, [key])[:300])


def test_redact_covers_exactly_the_characters_in_pieces_of_a_secret():
    rng = random.Random(8)
    secrets = (MAILCHIMP_KEY, KLAVIYO_KEY)
    for _ in range(200):
        parts = []
        for _ in range(rng.randint(1, 6)):
            source = rng.choice([*secrets, "abcdefghij klmnop 0123456789 -_."])
            start = rng.randrange(len(source))
            parts.append(source[start : start + rng.randint(1, 20)])
        text = "".join(parts)
        covered = _brute_force(text, secrets)
        expected, index = [], 0
        while index < len(text):
            if covered[index]:
                while index < len(text) and covered[index]:
                    index += 1
                expected.append("***")
            else:
                expected.append(text[index])
                index += 1
        assert redact(text, secrets) == "".join(expected), text


def test_redact_keeps_ordinary_words_and_handles_long_texts():
    assert redact("the mailchimp sync failed", ["abc"]) == "the mailchimp sync failed"
    assert redact("password: hunter2 hunter", ["hunter2"]) == "password: *** hunter"
    assert redact("", [MAILCHIMP_KEY]) == ""
    assert redact("nothing here", []) == "nothing here"
    noise = "".join(random.Random(1).choices("0123456789abcdef-", k=1_000_000))
    text = noise + MAILCHIMP_KEY[5:30] + noise + KLAVIYO_KEY + noise
    masked = redact(text, PLANTED)
    assert not leaks(masked)
    assert masked.count("***") >= 2 and masked.startswith(noise[:1000]) and masked.endswith(noise[-1000:])


# key formats ----------------------------------------------------------------------------------------


def _error(env: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as raised:
        ActivationConfig.from_env(env)
    message = str(raised.value)
    assert not leaks(message), message
    return message


MAILCHIMP = {"AW_MAILCHIMP_AUDIENCE_ID": "aud1"}


def test_a_mailchimp_key_without_a_data_centre_never_becomes_a_host_name():
    dashless = MAILCHIMP_KEY.replace("-", "")
    message = _error({**MAILCHIMP, "AW_MAILCHIMP_API_KEY": dashless})
    assert "AW_MAILCHIMP_API_KEY" in message and "AW_MAILCHIMP_BASE_URL" in message
    for suffix in ("", "us", "21", "21us", "us21x", "usaustralia21", "us1234", "us_1", "e8666af7c249b9b6"):
        message = _error({**MAILCHIMP, "AW_MAILCHIMP_API_KEY": f"e4b9856a9838a408-{suffix}"})
        assert "AW_MAILCHIMP_API_KEY" in message
    proxy = "http://127.0.0.1:8765/mailchimp/3.0"
    config = ActivationConfig.from_env(
        {**MAILCHIMP, "AW_MAILCHIMP_API_KEY": dashless, "AW_MAILCHIMP_BASE_URL": proxy}
    )
    assert config.mailchimp.base_url == proxy
    assert config.mailchimp.api_key.reveal() == dashless
    config = ActivationConfig.from_env({**MAILCHIMP, "AW_MAILCHIMP_API_KEY": f"  {MAILCHIMP_KEY}\n"})
    assert config.mailchimp.base_url == "https://us21.api.mailchimp.com/3.0"
    assert not leaks(repr(config) + config.mailchimp.base_url)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AW_MAILCHIMP_API_KEY", "e4b9856a9838a408e86 66af7c249b9b6-us21"),
        ("AW_MAILCHIMP_API_KEY", "e4b9856a9838a408e86\n66af7c249b9b6-us21"),
        ("AW_MAILCHIMP_API_KEY", "e4b9856a9838a408e86\x0066af7c249b9b6-us21"),
        ("AW_MAILCHIMP_API_KEY", "e4b9856a9838a408e86é6af7c249b9b6-us21"),
        ("AW_MAILCHIMP_API_KEY", "   "),
        ("AW_MAILCHIMP_API_KEY", KLAVIYO_KEY),
        ("AW_MAILCHIMP_API_KEY", HUBSPOT_TOKEN),
        ("AW_KLAVIYO_API_KEY", "pk_c1a1336f9112f1a2\t334bb233b26e3a7105"),
        ("AW_KLAVIYO_API_KEY", "\n"),
        ("AW_KLAVIYO_API_KEY", "pk_"),
        ("AW_KLAVIYO_API_KEY", "c1a1336f9112f1a2334bb233b26e3a7105"),
        ("AW_KLAVIYO_API_KEY", "AbC123"),
        ("AW_KLAVIYO_API_KEY", HUBSPOT_TOKEN),
        ("AW_KLAVIYO_API_KEY", MAILCHIMP_KEY),
        ("AW_HUBSPOT_TOKEN", "pat-eu1-f74ae798-dc2b 4264-8085-f032ae3b9896"),
        ("AW_HUBSPOT_TOKEN", "pat-eu1-f74ae798-dc2b-4264-8085-f032ae3b9896\r\nX-Injected: 1"),
        ("AW_HUBSPOT_TOKEN", " \t "),
        ("AW_HUBSPOT_TOKEN", KLAVIYO_KEY),
        ("AW_HUBSPOT_TOKEN", MAILCHIMP_KEY),
    ],
)
def test_a_malformed_or_misplaced_key_is_a_configuration_error_that_names_the_variable(variable, value):
    env = {**MAILCHIMP, "AW_MAILCHIMP_BASE_URL": "http://127.0.0.1:1/mailchimp/3.0", variable: value}
    message = _error(env)
    assert variable in message
    assert not leaks(message.replace(variable, ""))


def test_valid_keys_of_each_format_are_accepted(caplog):
    env = {**MAILCHIMP, "AW_MAILCHIMP_API_KEY": MAILCHIMP_KEY, "AW_KLAVIYO_API_KEY": KLAVIYO_KEY}
    config = ActivationConfig.from_env({**env, "AW_HUBSPOT_TOKEN": HUBSPOT_TOKEN})
    assert config.secrets()[:3] == (MAILCHIMP_KEY, KLAVIYO_KEY, HUBSPOT_TOKEN)
    assert caplog.records == []
    oauth = "CJSP5qf1KhICAQEYs-gDIIGOBii1hQIyGQAf3xBKmlwHjX7OIpuIFEavB2-qYAGQsF4"
    with caplog.at_level(logging.WARNING, logger="activation.config"):
        config = ActivationConfig.from_env({"AW_HUBSPOT_TOKEN": oauth})
    assert config.hubspot.token.reveal() == oauth
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "AW_HUBSPOT_TOKEN" in caplog.text and oauth[:8] not in caplog.text
    assert ActivationConfig.from_env({"AW_KLAVIYO_API_KEY": "", "AW_HUBSPOT_TOKEN": ""}).configured() == (
        "file",
    )
    assert ActivationConfig.from_env(FakeESP().env()).configured() == (*ESP_NAMES, "file")
