"""Configuration of a generator run: scale, seed, formats, sources and dirt rates."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = "1.0.0"

SCALES: dict[str, int] = {"tiny": 300, "small": 20_000, "medium": 100_000, "large": 1_000_000}

# Fixed default so that output never depends on the wall clock.
DEFAULT_AS_OF = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)
HISTORY_DAYS = 730
FUTURE_DAYS = 90

# Contacts are simulated in blocks of this size, each block with its own random streams, so the
# result of a block never depends on how many blocks there are or how files are chunked.
BLOCK_SIZE = 50_000

SOURCES: dict[str, tuple[str, ...]] = {
    "crm": ("contacts",),
    "orders": ("orders", "order_items"),
    "catalog": ("products",),
    "web": ("events",),
    "email": ("campaigns", "events"),
    "privacy": ("requests",),
}

FORMATS = ("mixed", "csv", "parquet", "jsonl")
EXTENSIONS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}


@dataclass
class DirtConfig:
    """Rates of every defect (or awkward-but-legal situation) the generator injects.

    Every rate is a share in [0, 1] of the unit named below; counts are drawn per block with
    stochastic rounding so the realised share is within one row per block of the rate. Each
    injected defect is listed in ground_truth/dirt.parquet with its `handling`, the treatment
    staging is expected to give it (see datagen.dirt.HANDLING). Each kind draws from its own random
    stream, so dirt is an overlay: with the same seed, changing one rate leaves the base data and
    every other kind untouched (except `inactive_product`, which moves later purchases of a
    discontinued product to a successor product).

    crm/contacts
      contact_versions: share of contacts exported with 1-3 older versions (earlier updated_at,
        lower loyalty tier, other city/postal code, opt-in not yet given); the latest wins.
      duplicate_row: share of rows of crm/contacts, orders/orders and orders/order_items exported
        twice, byte for byte, somewhere else in the same file.
      email_case_space: share of contacts whose e-mail is written in upper/mixed case and/or with
        leading/trailing spaces.
      invalid_email: share of contacts whose e-mail is invalid (no @, no dot in the domain, inner
        space, "n/a", double @).
      shared_email: share of contacts whose address is replaced by a family address shared with
        1-4 other contacts (in the CRM, on their orders and in the ESP).
      mixed_date_formats: share of timestamp/date cells (crm, orders, web and e-mail events)
        written in a non-canonical accepted form of docs/conventions.md (offset, fraction, space
        separator, day-first with time, dotted or slashed date, epoch seconds); slash dates only
        where the day is above 12; the instant is unchanged to the second (fractions stay below
        half a second, day-first-with-minutes only for whole minutes).
      boolean_variants: share of boolean cells (email_opt_in, tracking_consent, products.active)
        written as yes/no/Y/N/TRUE/1/0/... instead of true/false.
      blank_optional: share of optional contact cells (phone, birth_date, gender, city,
        postal_code, income_band) left blank.
      missing_contact_id: share of contact rows with a blank contact_id.
      unparseable_timestamp: share of contact rows (signup_at or updated_at) and order rows
        (ordered_at) with a garbage timestamp such as "not a date" or "31/02/2026".
    orders/orders and orders/order_items
      guest_checkout: share of orders placed as guest by a known contact (blank contact_id, the
        contact's e-mail in messy case/spaces).
      guest_unknown: extra orders by true guests (new e-mails), as a share of the contacts' orders.
      foreign_currency: share of orders charged in EUR/GBP/CAD/AUD (only orders of contacts living
        where that currency is used); amounts and unit prices converted with datagen.currency.
      non_completed_status: share of orders cancelled, refunded or pending (pending only in the
        last 3 days).
      status_versions: share of orders also exported with an earlier status (pending or
        completed) before their final one. Every order row's updated_at is when that version
        was exported (the order time for a first version, up to 14 days later for a settled
        status), so the pipeline knows a refund only from then on; between versions of equal
        time the rule is "terminal status wins": refunded > cancelled > completed > pending.
      negative_total / absurd_total / unknown_currency / amount_mismatch: share of orders with a
        negative total, a total above 1,000,000, currency "XXX", or total != subtotal - discount +
        shipping.
      messy_product_id: share of product-id cells (order_items and catalog) in lower case and/or
        padded with spaces.
      orphan_item: extra order lines whose order_id is in no order, as a share of order lines.
      non_positive_quantity: share of order lines with quantity 0 or negative.
    catalog/products
      product_versions: share of products also exported with an older price (the older row comes
        first in the file; the contract has no updated_at, so the last row wins).
      inactive_product: share of products discontinued during the history (active false; old
        orders still reference them, later ones buy a successor).
    web/events
      bot_traffic: bot anonymous ids as a share of human anonymous ids; each bot fires bursts of
        hundreds of page_views within seconds and never logs in.
      late_arriving: share of web events delivered in a later chunk than their event_at (days
        older than the rest of that chunk).
      duplicate_event: share of web and e-mail events re-sent with the same event_id.
      no_consent_tracking: share of contacts without tracking consent whose events are tracked
        anyway (without it their events are not collected at all).
      unknown_event_type: extra web events of an unknown type, as a share of web events.
    email/events
      machine_opens: share of recipients behind a privacy proxy: every delivered e-mail gets an
        open 0-2 s after delivery, on top of their real opens.
      repeated_opens: share of real opens followed by 1-3 further opens of the same e-mail.
    privacy/requests
      privacy_request: share of contacts filing an erasure or opt_out request.
      privacy_email_only: share of requests identified only by e-mail (messy case, no contact_id).
    """

    contact_versions: float = 0.15
    duplicate_row: float = 0.01
    email_case_space: float = 0.05
    invalid_email: float = 0.01
    shared_email: float = 0.01
    mixed_date_formats: float = 0.03
    boolean_variants: float = 0.10
    blank_optional: float = 0.03
    missing_contact_id: float = 0.002
    unparseable_timestamp: float = 0.002
    guest_checkout: float = 0.05
    guest_unknown: float = 0.02
    foreign_currency: float = 0.08
    non_completed_status: float = 0.08
    status_versions: float = 0.03
    negative_total: float = 0.002
    absurd_total: float = 0.001
    unknown_currency: float = 0.002
    amount_mismatch: float = 0.005
    messy_product_id: float = 0.03
    orphan_item: float = 0.003
    non_positive_quantity: float = 0.002
    product_versions: float = 0.05
    inactive_product: float = 0.08
    bot_traffic: float = 0.003
    late_arriving: float = 0.01
    duplicate_event: float = 0.005
    no_consent_tracking: float = 0.10
    unknown_event_type: float = 0.002
    machine_opens: float = 0.25
    repeated_opens: float = 0.20
    privacy_request: float = 0.005
    privacy_email_only: float = 0.30

    def __post_init__(self) -> None:
        for name, value in self.as_dict().items():
            if not (isinstance(value, int | float) and 0.0 <= float(value) <= 1.0):
                raise ValueError(f"dirt rate {name} must be within [0, 1], got {value!r}")

    @classmethod
    def none(cls) -> DirtConfig:
        """Every rate zero: perfectly clean data."""
        return cls(**dict.fromkeys(cls.names(), 0.0))

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def as_dict(self) -> dict[str, float]:
        return {name: float(getattr(self, name)) for name in self.names()}

    def with_rates(self, overrides: dict[str, float]) -> DirtConfig:
        unknown = sorted(set(overrides) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown dirt kind(s): {', '.join(unknown)}; known: {', '.join(self.names())}")
        return dataclasses.replace(self, **{k: float(v) for k, v in overrides.items()})


@dataclass
class GeneratorConfig:
    """One generator run. `contacts` overrides the scale's contact count (tests use small counts)."""

    out: Path
    scale: str = "small"
    seed: int = 7
    as_of: dt.datetime = DEFAULT_AS_OF
    format: str = "mixed"
    dirt: DirtConfig = field(default_factory=DirtConfig)
    truth_out: Path | None = None
    sources: tuple[str, ...] = tuple(SOURCES)
    contacts: int | None = None
    chunk_days: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.truth_out is not None:
            self.truth_out = Path(self.truth_out)
        if self.scale not in SCALES:
            raise ValueError(f"unknown scale {self.scale!r}; choose from {', '.join(SCALES)}")
        if self.format not in FORMATS:
            raise ValueError(f"unknown format {self.format!r}; choose from {', '.join(FORMATS)}")
        unknown = sorted(set(self.sources) - set(SOURCES))
        if unknown or not self.sources:
            raise ValueError(f"unknown or no sources {unknown}; choose from {', '.join(SOURCES)}")
        self.sources = tuple(s for s in SOURCES if s in self.sources)
        if self.as_of.tzinfo is None:
            self.as_of = self.as_of.replace(tzinfo=dt.UTC)
        self.as_of = self.as_of.astimezone(dt.UTC)
        if self.as_of.timestamp() % 60:
            raise ValueError("as_of must fall on a whole minute")
        if self.seed < 0:
            raise ValueError("seed must be non-negative")
        if self.contacts is not None and self.contacts < 1:
            raise ValueError("contacts must be positive")
        if self.chunk_days is not None and self.chunk_days < 1:
            raise ValueError("chunk_days must be positive")

    @property
    def n_contacts(self) -> int:
        return self.contacts if self.contacts is not None else SCALES[self.scale]

    @property
    def n_products(self) -> int:
        """A few hundred products for tiny data, ~5,000 for a million contacts (log-linear between)."""
        position = (math.log10(max(self.n_contacts, 300)) - math.log10(300)) / (6 - math.log10(300))
        return round(300 + (5000 - 300) * min(position, 1.0))

    @property
    def event_chunk_days(self) -> int:
        """Days of events per chunk file: weekly files for a million contacts, monthly for tiny."""
        if self.chunk_days is not None:
            return self.chunk_days
        if self.n_contacts >= 500_000:
            return 7
        if self.n_contacts >= 50_000:
            return 14
        return 30

    @property
    def truth_dir(self) -> Path:
        return self.truth_out if self.truth_out is not None else self.out.parent / "ground_truth"

    def format_of(self, source: str, table: str) -> str:
        """File format of one table: `mixed` puts web events in Parquet and e-mail events in JSONL."""
        if self.format != "mixed":
            return self.format
        if (source, table) == ("web", "events"):
            return "parquet"
        if (source, table) == ("email", "events"):
            return "jsonl"
        return "csv"
