"""Exceptions raised by the activation package. Messages never carry an API key, nor any piece of
one 8 characters long: every text that comes from an ESP passes through `redact`, whole, before it
is cut to length or lands in an exception, a log record or a table."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache


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


MASK = "***"
# A piece of a key this long is masked wherever it appears (a key cut at a length limit, split
# across lines or partly echoed); shorter pieces are too common in ordinary text to count.
MIN_PIECE = 8
# Secrets shorter than a piece are masked only whole, and below this not at all: replacing them
# would garble ordinary words.
MIN_SECRET = 4


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret, and every piece of 8 or more characters of one, replaced by ***."""
    if not text:
        return text
    return _masker(tuple(secrets))(text)


@lru_cache(maxsize=64)
def _masker(secrets: tuple[str, ...]) -> _Masker:
    return _Masker(secrets)


class _Masker:
    """Finds pieces of the secrets through anchors: the secret's 4-character blocks at offsets 0, 4,
    8, ... Any piece of 8 or more characters contains a whole block, so searching the text for the
    few blocks (str.find, in C) and extending each hit both ways along the secret finds every
    piece in about O(len(text) x blocks), however long the text or many the secrets."""

    def __init__(self, secrets: tuple[str, ...]):
        usable = {s for s in secrets if s and len(s) >= MIN_SECRET}
        self.short = sorted((s for s in usable if len(s) < MIN_PIECE), key=len, reverse=True)
        self.anchors: dict[str, list[tuple[str, int]]] = {}
        step = MIN_PIECE // 2
        for secret in sorted(s for s in usable if len(s) >= MIN_PIECE):
            for offset in range(0, len(secret) - step + 1, step):
                self.anchors.setdefault(secret[offset : offset + step], []).append((secret, offset))

    def __call__(self, text: str) -> str:
        merged: list[list[int]] = []
        for start, end in sorted(self._spans(text)):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        if merged:
            parts, position = [], 0
            for start, end in merged:
                parts += [text[position:start], MASK]
                position = end
            parts.append(text[position:])
            text = "".join(parts)
        for secret in self.short:
            text = text.replace(secret, MASK)
        return text

    def _spans(self, text: str) -> set[tuple[int, int]]:
        """(start, end) of every longest stretch of `text` that is a piece of a secret."""
        spans: set[tuple[int, int]] = set()
        for block, places in self.anchors.items():
            hit = text.find(block)
            while hit != -1:
                for secret, offset in places:
                    start, first = hit, offset
                    while start > 0 and first > 0 and text[start - 1] == secret[first - 1]:
                        start, first = start - 1, first - 1
                    end, last = hit + len(block), offset + len(block)
                    while end < len(text) and last < len(secret) and text[end] == secret[last]:
                        end, last = end + 1, last + 1
                    if end - start >= MIN_PIECE:
                        spans.add((start, end))
                hit = text.find(block, hit + 1)
        return spans
