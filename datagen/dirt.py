"""Dirt registry and the functions that write values in their messy forms.

A row carries a uint64 bit mask of the (kind, column) defects injected into it; the writers turn
set bits into rows of ground_truth/dirt.parquet with the file and row where the defect landed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import text
from datagen.batch import Batch
from datagen.config import DirtConfig
from datagen.rng import choose, segment_positions, stream
from datagen.text import DAY

# What staging is expected to do with each kind.
HANDLING: dict[str, str] = {
    # keep one row: latest version / terminal status / last row / first copy
    "contact_versions": "deduplicate",
    "duplicate_row": "deduplicate",
    "status_versions": "deduplicate",
    "product_versions": "deduplicate",
    "duplicate_event": "deduplicate",
    # rewrite into the canonical form
    "email_case_space": "normalize",
    "mixed_date_formats": "normalize",
    "boolean_variants": "normalize",
    "messy_product_id": "normalize",
    "foreign_currency": "normalize",
    # invalid value or row: quarantine (or null the value, for e-mails)
    "invalid_email": "reject",
    "missing_contact_id": "reject",
    "unparseable_timestamp": "reject",
    "negative_total": "reject",
    "absurd_total": "reject",
    "unknown_currency": "reject",
    "amount_mismatch": "reject",
    "orphan_item": "reject",
    "non_positive_quantity": "reject",
    "unknown_event_type": "reject",
    # valid rows that must not count as customer behaviour
    "bot_traffic": "exclude",
    "machine_opens": "exclude",
    "no_consent_tracking": "exclude",
    # identity and consent decisions downstream
    "guest_checkout": "resolve",
    "guest_unknown": "resolve",
    "shared_email": "resolve",
    "privacy_request": "resolve",
    "privacy_email_only": "resolve",
    # legal data that readers must cope with
    "non_completed_status": "keep",
    "late_arriving": "keep",
    "repeated_opens": "keep",
    "blank_optional": "keep",
    "inactive_product": "keep",
}

OPTIONAL_CONTACT_COLUMNS = ("phone", "birth_date", "gender", "city", "postal_code", "income_band")

# (kind, column) pairs per table; the position is the bit in the row's dirt mask
TABLE_DIRT: dict[tuple[str, str], tuple[tuple[str, str | None], ...]] = {
    ("crm", "contacts"): (
        ("contact_versions", None),
        ("duplicate_row", None),
        ("email_case_space", "email"),
        ("invalid_email", "email"),
        ("shared_email", "email"),
        ("mixed_date_formats", "birth_date"),
        ("mixed_date_formats", "signup_at"),
        ("mixed_date_formats", "opt_in_at"),
        ("mixed_date_formats", "updated_at"),
        ("boolean_variants", "email_opt_in"),
        ("boolean_variants", "tracking_consent"),
        *(("blank_optional", col) for col in OPTIONAL_CONTACT_COLUMNS),
        ("missing_contact_id", "contact_id"),
        ("unparseable_timestamp", "signup_at"),
        ("unparseable_timestamp", "updated_at"),
    ),
    ("orders", "orders"): (
        ("guest_checkout", "contact_id"),
        ("guest_unknown", None),
        ("foreign_currency", "currency"),
        ("non_completed_status", "status"),
        ("status_versions", "status"),
        ("duplicate_row", None),
        ("negative_total", "total"),
        ("absurd_total", "total"),
        ("unknown_currency", "currency"),
        ("amount_mismatch", "total"),
        ("mixed_date_formats", "ordered_at"),
        ("unparseable_timestamp", "ordered_at"),
    ),
    ("orders", "order_items"): (
        ("messy_product_id", "product_id"),
        ("orphan_item", "order_id"),
        ("non_positive_quantity", "quantity"),
        ("duplicate_row", None),
    ),
    ("catalog", "products"): (
        ("messy_product_id", "product_id"),
        ("product_versions", "price"),
        ("inactive_product", "active"),
        ("boolean_variants", "active"),
    ),
    ("web", "events"): (
        ("bot_traffic", "anonymous_id"),
        ("late_arriving", "event_at"),
        ("duplicate_event", "event_id"),
        ("no_consent_tracking", None),
        ("mixed_date_formats", "event_at"),
        ("unknown_event_type", "event_type"),
    ),
    ("email", "events"): (
        ("machine_opens", "event_type"),
        ("repeated_opens", "event_type"),
        ("duplicate_event", "event_id"),
        ("mixed_date_formats", "event_at"),
    ),
    ("email", "campaigns"): (),
    ("privacy", "requests"): (("privacy_request", None), ("privacy_email_only", "email")),
}

assert (
    {kind for pairs in TABLE_DIRT.values() for kind, _ in pairs} == set(DirtConfig.names()) == set(HANDLING)
)


def bit(source: str, table: str, kind: str, column: str | None = None) -> np.uint64:
    return np.uint64(1) << np.uint64(TABLE_DIRT[(source, table)].index((kind, column)))


class DirtDraw:
    """Random streams for the dirt of one table in one block: one stream per kind and column."""

    def __init__(self, seed: int, source: str, table: str, block: int, rates: DirtConfig) -> None:
        self.seed, self.source, self.table, self.block, self.rates = seed, source, table, block, rates

    def rng(self, kind: str, column: str | None = None) -> np.random.Generator:
        return stream(self.seed, "dirt", kind, self.source, self.table, column or "", self.block)

    def pick(
        self, kind: str, candidates: np.ndarray, base: int | None = None, column: str | None = None
    ) -> np.ndarray:
        return choose(self.rng(kind, column), candidates, getattr(self.rates, kind), base)

    def bit(self, kind: str, column: str | None = None) -> np.uint64:
        return bit(self.source, self.table, kind, column)


# --- timestamps and dates -------------------------------------------------------------------
CANONICAL, WITH_OFFSET, WITH_FRACTION, SPACE_SEPARATED, EPOCH, DAY_FIRST_TIME, DATE_ONLY = range(7)
SLASH_DATE, DOTTED_DATE, DATE_AS_TIMESTAMP = 7, 8, 9
GARBAGE_TIMESTAMPS = (
    "not a date",
    "31/02/2026",
    "2026-13-45",
    "N/A",
    "0000-00-00",
    "yesterday",
    "2026-02-30T25:61:00Z",
    "TBD",
)


def timestamp_formats(
    rng: np.random.Generator, seconds: np.ndarray, rate: float
) -> tuple[np.ndarray, np.ndarray]:
    """Format codes (0 canonical) and their parameter for a share `rate` of timestamp cells.

    Forms that drop information are used only where they lose nothing: day-first with minutes only
    for whole minutes with a day above 12, date-only only at midnight.
    """
    n = len(seconds)
    fmt = np.zeros(n, dtype=np.int8)
    aux = np.zeros(n, dtype=np.int32)
    chosen = choose(rng, np.ones(n, dtype=bool), rate)
    if len(chosen) == 0:
        return fmt, aux
    value = seconds[chosen]
    _, _, day = text.ymd(np.floor_divide(value, DAY))
    code = rng.choice([WITH_OFFSET, WITH_FRACTION, SPACE_SEPARATED, EPOCH, DAY_FIRST_TIME], size=len(chosen))
    whole_minute = value % 60 == 0
    code = np.where((code == DAY_FIRST_TIME) & ~(whole_minute & (day > 12)), SPACE_SEPARATED, code)
    code = np.where((value % DAY == 0) & (rng.random(len(chosen)) < 0.5), DATE_ONLY, code)
    fmt[chosen] = code
    offsets = rng.choice([-480, -300, -240, 60, 120, 330, 540, 600], size=len(chosen))
    # fractions stay below half a second so rounding and truncating both give the exact second
    aux[chosen] = np.where(code == WITH_OFFSET, offsets, rng.integers(0, 500, size=len(chosen)))
    return fmt, aux


def date_formats(rng: np.random.Generator, days: np.ndarray, rate: float) -> np.ndarray:
    """Format codes for a share of date cells: day-first slash dates only where the day is above 12."""
    n = len(days)
    fmt = np.zeros(n, dtype=np.int8)
    chosen = choose(rng, np.ones(n, dtype=bool), rate)
    _, _, day = text.ymd(days[chosen])
    code = rng.choice([SLASH_DATE, DOTTED_DATE, DATE_AS_TIMESTAMP], size=len(chosen))
    fmt[chosen] = np.where((code == SLASH_DATE) & (day <= 12), DOTTED_DATE, code)
    return fmt


def format_timestamps(
    seconds: np.ndarray, fmt: np.ndarray | None = None, aux: np.ndarray | None = None
) -> pa.Array:
    """Timestamps as text: canonical ISO UTC, except cells whose format code says otherwise."""
    seconds = np.asarray(seconds, dtype=np.int64)

    def variant(code: int, rows: np.ndarray) -> pa.Array:
        return _timestamp_variant(code, seconds[rows], aux[rows])

    return _with_variants(text.iso_timestamps(seconds), fmt, variant)


def _with_variants(
    values: pa.Array, fmt: np.ndarray | None, variant: Callable[[int, np.ndarray], pa.Array]
) -> pa.Array:
    """The canonical texts, each cell with a format code replaced by `variant(code, rows)`."""
    if fmt is None or not fmt.any():
        return values
    for code in np.unique(fmt[fmt > 0]):
        rows = np.flatnonzero(fmt == code)
        values = text.replace_at(values, rows, variant(int(code), rows))
    return values


def _timestamp_variant(code: int, seconds: np.ndarray, aux: np.ndarray) -> pa.Array:
    days, second_of_day = np.divmod(seconds, DAY)
    n = len(seconds)
    if code == WITH_OFFSET:
        local = seconds + aux.astype(np.int64) * 60
        local_days, local_sod = np.divmod(local, DAY)
        sign = np.where(aux < 0, ord("-"), ord("+")).astype(np.uint8)[:, None]
        minutes = np.abs(aux.astype(np.int64))
        zone = text.hstack(sign, text.digits(minutes // 60, 2), ":", text.digits(minutes % 60, 2))
        return text.from_matrix(
            text.hstack(text.date_matrix(local_days), "T", text.time_matrix(local_sod), zone)
        )
    if code == WITH_FRACTION:
        return text.from_matrix(
            text.hstack(
                text.date_matrix(days), "T", text.time_matrix(second_of_day), ".", text.digits(aux, 3), "Z"
            )
        )
    if code == SPACE_SEPARATED:
        return text.from_matrix(text.hstack(text.date_matrix(days), " ", text.time_matrix(second_of_day)))
    if code == EPOCH:
        return text.integers(seconds)
    if code == DAY_FIRST_TIME:
        return text.from_matrix(
            text.hstack(_day_first(days, "/"), " ", text.time_matrix(second_of_day)[:, :5])
        )
    if code == DATE_ONLY:
        return text.iso_dates(days)
    raise ValueError(f"unknown timestamp format {code} for {n} values")


def _day_first(days: np.ndarray, separator: str) -> np.ndarray:
    year, month, day = text.ymd(days)
    return text.hstack(text.digits(day, 2), separator, text.digits(month, 2), separator, text.digits(year, 4))


def format_dates(days: np.ndarray, fmt: np.ndarray | None = None) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    return _with_variants(text.iso_dates(days), fmt, lambda code, rows: _date_variant(code, days[rows]))


def _date_variant(code: int, days: np.ndarray) -> pa.Array:
    if code == SLASH_DATE:
        return text.from_matrix(_day_first(days, "/"))
    if code == DOTTED_DATE:
        return text.from_matrix(_day_first(days, "."))
    return text.from_matrix(text.hstack(text.date_matrix(days), "T00:00:00Z"))


def garbage_timestamps(rng: np.random.Generator, n: int) -> pa.Array:
    return text.take(list(GARBAGE_TIMESTAMPS), rng.integers(0, len(GARBAGE_TIMESTAMPS), size=n))


# --- other values ---------------------------------------------------------------------------
TRUE_VARIANTS = ("yes", "Yes", "Y", "y", "TRUE", "True", "1", "t", " yes ", "YES")
FALSE_VARIANTS = ("no", "No", "N", "n", "FALSE", "False", "0", "f", " no ", "NO")


def booleans(values: np.ndarray) -> pa.Array:
    return text.take(["false", "true"], values.astype(np.int64))


def boolean_variants(rng: np.random.Generator, values: np.ndarray) -> pa.Array:
    pick = rng.integers(0, len(TRUE_VARIANTS), size=len(values))
    return pc.if_else(
        pa.array(values), text.take(list(TRUE_VARIANTS), pick), text.take(list(FALSE_VARIANTS), pick)
    )


def messy_emails(rng: np.random.Generator, emails: pa.Array) -> pa.Array:
    """Same address in upper or capitalised case and/or with edge spaces (always changed)."""
    n = len(emails)
    style = rng.integers(0, 4, size=n)
    upper = pc.utf8_upper(emails)
    capitalised = pc.utf8_capitalize(emails)
    swapped = pc.utf8_swapcase(capitalised)
    cased = pc.if_else(pa.array(style == 0), upper, pc.if_else(pa.array(style == 1), capitalised, swapped))
    cased = pc.if_else(pa.array(style == 3), emails, cased)
    lead = text.take(["", " ", "  "], rng.integers(0, 3, size=n))
    trail = text.take(
        ["", " ", "   "], np.where(style == 3, rng.integers(1, 3, size=n), rng.integers(0, 3, size=n))
    )
    return text.concat(lead, cased, trail)


def invalid_emails(rng: np.random.Generator, emails: pa.Array) -> pa.Array:
    """Broken addresses: no @, no dot in the domain, inner space, n/a, double @."""
    n = len(emails)
    style = rng.integers(0, 5, size=n)
    no_at = pc.replace_substring(emails, "@", "", max_replacements=1)
    no_dot = pc.replace_substring_regex(emails, r"@([^.@]+)\..*$", r"@\1")
    inner_space = pc.replace_substring(emails, "@", " @", max_replacements=1)
    double_at = pc.replace_substring(emails, "@", "@@", max_replacements=1)
    na = pa.array(["n/a"] * n, type=pa.string())
    out = no_at
    for code, variant in ((1, no_dot), (2, inner_space), (3, na), (4, double_at)):
        out = pc.if_else(pa.array(style == code), variant, out)
    return out


def messy_product_ids(rng: np.random.Generator, ids: pa.Array) -> pa.Array:
    """Lower case and/or padded with spaces (always changed)."""
    n = len(ids)
    style = rng.integers(0, 3, size=n)
    lowered = pc.if_else(pa.array(style != 1), pc.utf8_lower(ids), ids)
    pad = pa.array(style >= 1)
    return pc.if_else(pad, text.concat(" ", lowered, "  "), lowered)


# --- defects that add or share rows in more than one table -----------------------------------


def share_emails(draw: DirtDraw, n: int, emails: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Family addresses: groups of 2-5 picked contacts all use the first member's address.

    The shared addresses reach the CRM, the contacts' orders and the ESP alike.
    """
    picked = draw.pick("shared_email", np.ones(n, dtype=bool))
    if len(picked) < 2:
        return emails, np.empty(0, dtype=np.int64)
    rng = draw.rng("shared_email", "groups")
    picked = rng.permutation(picked)
    sizes = rng.integers(2, 5, size=len(picked))
    ends = np.cumsum(sizes)
    last = int(np.searchsorted(ends, len(picked)))
    sizes = sizes[: last + 1]
    sizes[-1] = len(picked) - (ends[last - 1] if last > 0 else 0)
    if sizes[-1] == 1:  # nobody shares with themselves: join the previous family
        sizes[-2] += 1
        sizes = sizes[:-1]
    group, _ = segment_positions(sizes)
    leader = picked[np.cumsum(sizes) - sizes][group]
    emails = text.replace_at(emails, np.sort(picked), emails.take(pa.array(leader[np.argsort(picked)])))
    return emails, np.sort(picked)


def with_duplicates(draw: DirtDraw, batch: Batch, sort_key: np.ndarray) -> tuple[Batch, np.ndarray]:
    """Append exact copies of some rows, placed at random positions of the file."""
    copies = draw.pick("duplicate_row", np.ones(len(batch), dtype=bool))
    if len(copies) == 0:
        return batch, sort_key
    duplicate = batch.take(copies)
    duplicate.dirt = np.full(len(copies), draw.bit("duplicate_row"), dtype=np.uint64)
    low, high = int(sort_key.min()), int(sort_key.max())
    where = draw.rng("duplicate_row", "position").integers(low, max(high, low + 1), size=len(copies))
    return Batch.concat([batch, duplicate]), np.concatenate([sort_key, where])


def format_event_times(draw: DirtDraw, rows: dict[str, np.ndarray]) -> None:
    """Give event rows their event_at format codes and an arrival time (the event time, for now)."""
    fmt, aux = timestamp_formats(
        draw.rng("mixed_date_formats", "event_at"), rows["at"], draw.rates.mixed_date_formats
    )
    rows["fmt"], rows["aux"] = fmt, aux
    rows["dirt"][fmt > 0] |= draw.bit("mixed_date_formats", "event_at")
    rows["arrival"] = rows["at"].copy()


def duplicate_events(draw: DirtDraw, rows: dict[str, np.ndarray], as_of: int) -> dict[str, np.ndarray]:
    """Re-sent events: same id and content, arriving a little later (possibly in a later chunk)."""
    copies = draw.pick("duplicate_event", np.ones(len(rows["uid"]), dtype=bool), column="event_id")
    rng = draw.rng("duplicate_event", "arrival")
    extra = {k: v[copies].copy() for k, v in rows.items()}
    extra["arrival"] = np.minimum(extra["arrival"] + rng.integers(60, 3 * DAY, size=len(copies)), as_of - 1)
    extra["dirt"] = np.full(len(copies), draw.bit("duplicate_event", "event_id"), dtype=np.uint64)
    return {k: np.concatenate([rows[k], extra[k]]) for k in rows}
