"""What the three ESP clients share: one HTTP client built from their settings (credential in its
headers or auth only), the request count, redaction of ESP texts, closing, a `__repr__` that never
shows the key, the lookup-then-act steps of removal and suppression (ids we know from the
state or looked up by e-mail; one request per group; every member of a failed group failed), the
one-call-per-member steps run up to the connection cap, and erasure by one deletion request."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import httpx

from activation.destinations.base import FAILED, SENT, Destination, Outcome, StateMember, chunks
from activation.errors import ESPRequestError
from activation.http import ApiClient

Lookup = Callable[[list[str]], dict[str, str]]
Pairs = list[tuple[str, str]]
T = TypeVar("T")


def all_failed(keys: Sequence[str], why: str) -> dict[str, Outcome]:
    """The same failure for every member key, e.g. when the request for their batch failed."""
    return {key: Outcome(FAILED, why) for key in keys}


class EspDestination(Destination):
    """An ESP reached over HTTP. Subclasses set `name` and call `__init__` with their config (a
    `base_url` and `http` settings) and the auth they use."""

    def __init__(
        self,
        config: Any,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ):
        self.config = config
        self.max_concurrency = max(1, config.http.max_concurrency)
        self.api = ApiClient(
            self.name, config.base_url, config.http, headers=headers, auth=auth, secrets=secrets
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()})"

    def describe(self) -> str:
        """What tells two clients apart in a repr (never a credential)."""
        return f"base_url={self.config.base_url!r}"

    @property
    def requests_made(self) -> int:
        return self.api.requests_made

    def redact(self, text: str) -> str:
        return self.api.redact(text)

    def close(self) -> None:
        self.api.close()

    def in_parallel(self, call: Callable[[T], tuple[str, Outcome]], items: Iterable[T]) -> dict[str, Outcome]:
        """The (member key, outcome) `call` gives for each item, up to the connection cap at once:
        for ESP calls that take one member each."""
        with ThreadPoolExecutor(max_workers=max(1, self.max_concurrency)) as pool:
            return dict(pool.map(call, items))

    def erase_with(self, method: str, path: str, **kwargs: Any) -> Outcome:
        """Erasure by one deletion request; a 404 means the ESP never held the person, which is
        as erased as they can be."""
        response = self.api.request(method, path, ok_statuses=(404,), **kwargs)
        if response.status_code == 404:
            return Outcome(SENT, f"not present in {self.name}")
        return Outcome(SENT)

    def records(
        self, members: list[StateMember], lookup: Lookup, *, what: str, absent: str, known_ids: bool = True
    ) -> tuple[Pairs, dict[str, Outcome]]:
        """(member key, ESP record id) of the members the ESP holds, and an outcome for the others:
        done with `absent` when the ESP does not hold them, failed when the lookup failed. With
        `known_ids` the ids in our state are trusted and only the rest are looked up."""
        keys = [m.member_key for m in members]
        ask = [m.member_key for m in members if not (known_ids and m.esp_record_id)]
        try:
            found = lookup(ask) if ask else {}
        except ESPRequestError as error:
            return [], all_failed(keys, f"{what} lookup failed: {error}")
        pairs: Pairs = []
        outcomes: dict[str, Outcome] = {}
        for member in members:
            record = (member.esp_record_id if known_ids else None) or found.get(member.member_key)
            if record:
                pairs.append((member.member_key, record))
            else:
                outcomes[member.member_key] = Outcome(SENT, absent)
        return pairs, outcomes

    @staticmethod
    def send_groups(
        pairs: Pairs, size: int, send: Callable[[Pairs], object], failure: str
    ) -> dict[str, Outcome]:
        """One request per group of (member key, record id); a group's members are done with
        their record id when it succeeds and failed with `failure` and the error when not."""
        outcomes: dict[str, Outcome] = {}
        for group in chunks(pairs, size):
            try:
                send(group)
            except ESPRequestError as error:
                outcomes.update(all_failed([key for key, _ in group], f"{failure}: {error}"))
                continue
            outcomes.update({key: Outcome(SENT, esp_record_id=record) for key, record in group})
        return outcomes
