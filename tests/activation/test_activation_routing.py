"""Where each audience goes (activation/routing.py): the destination registry and the routing
rules, as pure functions of what is configured and what the sync state knows."""

from __future__ import annotations

import pandas as pd
import pytest

from activation.config import ESP_NAMES, ActivationConfig
from activation.destinations.file import FileDestination
from activation.errors import ConfigError, InputError
from activation.routing import CLIENTS, DESTINATION_NAMES, ESP_WIDE, Route, Router, build_destination

EVERYTHING = Router(frozenset(DESTINATION_NAMES))
FILES_ONLY = Router(frozenset({"file"}))


def _state(*pairs: tuple[str, str]) -> pd.DataFrame:
    return pd.DataFrame(list(pairs), columns=["destination", "list_key"])


def test_every_esp_of_the_config_has_a_client_and_files_come_last():
    assert (*ESP_NAMES, "file") == DESTINATION_NAMES
    assert set(CLIENTS) == set(DESTINATION_NAMES)


def test_an_unconfigured_esp_cannot_be_built_and_the_error_says_where_to_look():
    with pytest.raises(ConfigError, match=r"mailchimp is not configured .*ENV_VARS"):
        build_destination("mailchimp", ActivationConfig())
    with pytest.raises(ConfigError, match="fax is not configured"):
        build_destination("fax", ActivationConfig())


def test_the_file_destination_needs_no_keys():
    assert isinstance(build_destination("file", ActivationConfig()), FileDestination)


def test_an_audience_for_a_configured_esp_goes_to_it():
    assert EVERYTHING.route("klaviyo", "vip") == Route("klaviyo", "vip", "klaviyo", "vip")


def test_an_audience_for_an_esp_without_keys_goes_to_a_file_of_its_own():
    assert FILES_ONLY.route("klaviyo", "vip") == Route("klaviyo", "vip", "file", "klaviyo/vip")
    assert FILES_ONLY.route("file", "vip") == Route("file", "vip", "file", "vip")


def test_unconfigured_skip_drops_the_audience_and_error_refuses_it():
    assert Router(frozenset({"file"}), "skip").route("hubspot", "vip") is None
    with pytest.raises(ConfigError, match="'vip' is for hubspot, which is not configured"):
        Router(frozenset({"file"}), "error").route("hubspot", "vip")


def test_an_unknown_destination_is_refused():
    with pytest.raises(InputError, match="unknown destination 'fax'"):
        EVERYTHING.route("fax", "vip")
    with pytest.raises(InputError, match=r"unknown destinations \['fax'\]"):
        Router.scope(["fax"], set(), _state())


def test_the_scope_is_what_is_asked_for_else_everything_the_audience_or_the_state_names():
    state = _state(("file", "hubspot/vip"), ("mailchimp", ESP_WIDE), ("file", "plain"))
    assert Router.scope(["klaviyo"], {"mailchimp"}, state) == {"klaviyo"}
    assert Router.scope(None, {"klaviyo"}, state) == {"klaviyo", "hubspot", "mailchimp", "file"}


def test_a_list_the_state_knows_but_the_audience_dropped_is_still_synced():
    state = _state(("mailchimp", "old"), ("mailchimp", ESP_WIDE), ("klaviyo", "elsewhere"))
    lists = EVERYTHING.lists([("mailchimp", "vip")], {"mailchimp"}, state)
    assert lists == [("mailchimp", "old"), ("mailchimp", "vip")]


def test_a_file_fallback_is_synced_while_its_esp_has_no_keys_and_stale_once_it_has():
    state = _state(("file", "hubspot/vip"))
    assert FILES_ONLY.lists([], {"hubspot"}, state) == [("hubspot", "vip")]
    assert FILES_ONLY.stale_file_lists({"hubspot"}, state) == []
    assert EVERYTHING.lists([], {"hubspot"}, state) == []
    assert EVERYTHING.stale_file_lists({"hubspot"}, state) == [("hubspot", "vip")]


def test_a_file_fallback_belongs_to_its_esps_export_only():
    state = _state(("file", "hubspot/vip"), ("file", "plain"))
    assert EVERYTHING.stale_file_lists({"file"}, state) == []
    assert FILES_ONLY.lists([], {"file"}, state) == [("file", "plain")]


def test_skipping_an_esp_retires_its_file_fallback():
    skip = Router(frozenset({"file"}), "skip")
    assert skip.stale_file_lists({"hubspot"}, _state(("file", "hubspot/vip"))) == [("hubspot", "vip")]


def test_a_run_of_some_lists_leaves_the_other_lists_of_the_audience_and_the_state_alone():
    state = _state(("mailchimp", "old"), ("mailchimp", "carts"), ("file", "hubspot/carts"))
    audience_lists = [("mailchimp", "vip"), ("mailchimp", "carts"), ("hubspot", "carts")]
    assert FILES_ONLY.lists(audience_lists, {"mailchimp", "hubspot"}, state, only={"carts"}) == [
        ("hubspot", "carts"),
        ("mailchimp", "carts"),
    ]
    assert EVERYTHING.lists(audience_lists, {"mailchimp"}, state, only=set()) == []
