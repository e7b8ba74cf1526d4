"""Key leaks (issue 8, "Secrets"): redaction masks a key whole and any piece of it 8 or more
characters long — a key cut at a length limit, split across lines, partly echoed — and only that;
activation.config checks key formats before any key is used, and its errors never show a key."""

from __future__ import annotations

import base64
import json
import logging
import random

import pytest

from activation import ActivationConfig, ConfigError
from activation.errors import redact
from tests.activation.fake_esp import FakeESP

MAILCHIMP_KEY = "e4b9856a9838a408e8666af7c249b9b6-us21"
KLAVIYO_KEY = "pk_c1a1336f9112f1a2334bb233b26e3a7105"
HUBSPOT_TOKEN = "pat-eu1-f74ae798-dc2b-4264-8085-f032ae3b9896"
MAILCHIMP_BASIC = base64.b64encode(f"anystring:{MAILCHIMP_KEY}".encode()).decode()
KEYS = {"mailchimp": MAILCHIMP_KEY, "klaviyo": KLAVIYO_KEY, "hubspot": HUBSPOT_TOKEN}
PLANTED = (MAILCHIMP_KEY, KLAVIYO_KEY, HUBSPOT_TOKEN, MAILCHIMP_BASIC)
PIECE = 8
ESPS = ("mailchimp", "klaviyo", "hubspot")


PIECES = {key[i : i + PIECE] for key in PLANTED for i in range(len(key) - PIECE + 1)}


def leaks(text: str) -> list[str]:
    """The 8-character pieces of a planted key found in `text`; any longer piece contains one."""
    return sorted(piece for piece in PIECES if piece in text)


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
    noise = "".join(random.Random(1).choice("0123456789abcdef-") for _ in range(1_000_000))
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
    assert config.secrets() == (MAILCHIMP_KEY, KLAVIYO_KEY, HUBSPOT_TOKEN)
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
    assert ActivationConfig.from_env(FakeESP().env()).configured() == (*ESPS, "file")
