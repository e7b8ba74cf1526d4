"""What the sync engine needs from a destination, and the small value types they exchange."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

SENT = "sent"
REJECTED = "rejected"
FAILED = "failed"


@dataclass
class Member:
    """One eligible member to create or update. `fields` holds only non-null values, so no
    destination can ever blank an ESP field with a null."""

    member_key: str
    customer_key: str
    fields: dict[str, Any]
    payload_hash: str
    esp_record_id: str | None = None
    was_pending: bool = False


@dataclass
class StateMember:
    """One member we synced earlier and now have to remove."""

    member_key: str
    customer_key: str | None
    esp_record_id: str | None
    created_by_us: bool
    pending: bool = False


@dataclass
class Outcome:
    status: str
    reason: str | None = None
    esp_record_id: str | None = None
    created_by_us: bool | None = None


@dataclass
class ListHandle:
    """Our list as the ESP knows it (segment, list or file path); `created_now` when this run
    made it, so it cannot yet hold anyone else's members."""

    list_key: str
    esp_list_id: str
    created_now: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Destination(ABC):
    """An ESP (or the file writer) the sync engine pushes to."""

    name: str = ""
    batch_size: int = 500
    suppress_batch_size: int = 100
    max_concurrency: int = 1
    snapshot: bool = False

    @property
    @abstractmethod
    def requests_made(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""

    @abstractmethod
    def ensure_list(self, list_key: str, known_id: str | None) -> ListHandle:
        """Find our list by name or create it; a known id is trusted without a request."""

    @abstractmethod
    def push(self, handle: ListHandle, creates: list[Member], updates: list[Member]) -> dict[str, Outcome]:
        """Upsert profiles and add `creates` to the list; one outcome per member key."""

    @abstractmethod
    def remove(self, handle: ListHandle, members: list[StateMember]) -> dict[str, Outcome]:
        """Take members out of our list (profiles stay); one outcome per member key."""

    @abstractmethod
    def erase(self, email: str, customer_key: str | None) -> Outcome:
        """Delete the person from the ESP for good (right to erasure)."""

    def suppress(self, members: list[StateMember]) -> dict[str, Outcome]:
        """Make the ESP itself refuse to mail these addresses, from any list or campaign, without
        creating anyone it does not already hold; one outcome per member key. A list removal alone
        leaves the person mailable by a send to the whole audience."""
        raise NotImplementedError(f"{self.name or type(self).__name__} has no ESP-wide suppression")

    def close(self) -> None:  # noqa: B027 - optional hook, most destinations hold no resources
        """Release connections."""


def chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
