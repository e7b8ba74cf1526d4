"""Exceptions raised by the activation package. Messages never carry an API key: every text that
comes from an ESP passes through `redact` before it lands in an exception or a log record."""

from __future__ import annotations


class ActivationError(Exception):
    """Base class for everything activation raises on purpose."""


class ConfigError(ActivationError):
    """A destination is configured wrongly or not at all (names the env var to set)."""


class InputError(ActivationError):
    """An input DataFrame breaks the contract as a whole (missing columns, wrong types)."""


class ESPRequestError(ActivationError):
    """An ESP call failed for good: a 4xx other than 429, or retries were exhausted.

    `retryable` says whether a later run may succeed (5xx, timeouts, rate limits) as opposed to a
    request the ESP will always refuse."""

    def __init__(self, message: str, *, esp: str, status_code: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.esp = esp
        self.status_code = status_code
        self.retryable = retryable


def redact(text: str, secrets: tuple[str, ...] | list[str]) -> str:
    """Replace every secret value in `text` with ***; secrets shorter than 4 characters are left
    alone because replacing them would garble ordinary words."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text
