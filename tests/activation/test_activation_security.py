"""Keys stay secret, and the Klaviyo subscribe endpoint is never used to push an audience."""

from __future__ import annotations

import base64
import logging
import pickle
import traceback

import pandas as pd
import pytest

from activation import ActivationConfig, ConfigError, ESPRequestError, propagate_erasures, sync_audiences
from activation.config import ESP_NAMES, Secret
from activation.destinations.klaviyo import KlaviyoDestination
from tests.activation.helpers import (
    audience,
    erasure_targets,
    no_suppressions,
    sql,
)


def _secrets(fake) -> list[str]:
    return [fake.mailchimp_key, fake.klaviyo_key, fake.hubspot_token]


def test_keys_never_appear_in_logs_errors_reprs_or_tables(fake, wh, small_config, caplog):
    caplog.set_level(logging.DEBUG)
    # an ESP that echoes the credential back in its error body
    fake.inject("status", esp="mailchimp", path=r"/segments/\d+$", status=400, echo_auth=True)
    for esp in ESP_NAMES:
        fake.inject("status", esp=esp, status=429, retry_after=0)
        fake.inject("status", esp=esp, status=500, after=1)
    desired = pd.concat([audience(esp, "vip", range(30)) for esp in ESP_NAMES])
    results = sync_audiences(desired, no_suppressions(), warehouse=wh, config=small_config)
    errors: list[str] = [r.message for r in results]
    bad = ActivationConfig.from_env({**fake.env(), "AW_KLAVIYO_API_KEY": "pk_wrong_key_for_this_test"})
    with pytest.raises(ESPRequestError) as raised:
        KlaviyoDestination(bad.klaviyo).ensure_list("vip", None)
    errors.append(str(raised.value))
    errors.append("".join(traceback.format_exception(raised.value)))
    errors.append(repr(small_config) + str(small_config) + repr(results))
    propagate_erasures(erasure_targets(1), warehouse=wh, config=small_config)
    logged = [record.getMessage() for record in caplog.records]
    assert any("retrying" in line for line in logged), "the faults should have been logged"
    tables = str(
        [
            sql(wh, f"SELECT * FROM activation.{table}")
            for table in ("sync_runs", "sync_results", "sync_state", "erasure_log", "destination_lists")
        ]
    )
    assert "answered 400" in tables, "the echoed error should have reached the results"
    basic = base64.b64encode(f"anystring:{fake.mailchimp_key}".encode()).decode()
    for secret in [*_secrets(fake), "pk_wrong_key_for_this_test", basic]:
        assert not any(secret in line for line in logged)
        assert not any(secret in text for text in errors)
        assert secret not in tables


def test_secret_values_do_not_leak_through_python():
    secret = Secret("s3cr3t-value")
    assert "s3cr3t" not in repr(secret) + str(secret) + f"{secret}" + f"{secret!r}"
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    config = ActivationConfig.from_env({"AW_HUBSPOT_TOKEN": "pat-secret-token-123"})
    assert "pat-secret-token-123" not in repr(config)
    assert config.hubspot.token.reveal() == "pat-secret-token-123"


def test_configuration_errors_name_the_variable():
    with pytest.raises(ConfigError, match="AW_MAILCHIMP_AUDIENCE_ID"):
        ActivationConfig.from_env({"AW_MAILCHIMP_API_KEY": "abc-us21"})
    assert ActivationConfig.from_env(
        {"AW_MAILCHIMP_API_KEY": "abc-us21", "AW_MAILCHIMP_AUDIENCE_ID": "x"}
    ).mailchimp.base_url == ("https://us21.api.mailchimp.com/3.0")
    with pytest.raises(ConfigError, match="allows 10 connections"):
        ActivationConfig.from_env(
            {
                "AW_MAILCHIMP_API_KEY": "a-us1",
                "AW_MAILCHIMP_AUDIENCE_ID": "x",
                "AW_MAILCHIMP_MAX_CONCURRENCY": "12",
            }
        )
    assert ActivationConfig.from_env({}).configured() == ("file",)


def test_klaviyo_subscribe_endpoint_is_never_called(fake, wh, config):
    sync_audiences(audience("klaviyo", "vip", range(30)), no_suppressions(), warehouse=wh, config=config)
    changed = audience("klaviyo", "vip", range(5, 30), offer="new")
    sync_audiences(changed, no_suppressions(), warehouse=wh, config=config, force=True)
    propagate_erasures(erasure_targets(7), warehouse=wh, config=config)
    assert len(fake.requests("klaviyo")) > 5
    assert fake.requests("klaviyo", path="subscri") == []
    destination = KlaviyoDestination(config.klaviyo)
    with pytest.raises(ESPRequestError, match="changes consent"):
        destination._request("POST", "/api/profile-subscription-bulk-create-jobs", json={})
    destination.close()
    assert fake.requests("klaviyo", path="subscri") == []
