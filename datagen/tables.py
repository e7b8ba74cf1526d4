"""From simulated behaviour to the rows of each landing table, with the dirt overlay applied.

Base values come from the block's base streams; every defect comes from its own dirt stream
(datagen.dirt.DirtDraw), so the clean data of a seed is the same whatever the dirt rates.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import dirt, text, vocab
from datagen.config import DirtConfig
from datagen.currency import CURRENCIES, units_per_usd
from datagen.dirt import DirtDraw
from datagen.personas import MAX_DEVICES
from datagen.rng import mix64, segment_positions, stochastic_count, stream
from datagen.simulate import (
    EMAIL_TYPES,
    OPEN,
    PAGE_CAMPAIGN,
    PAGE_CATEGORY,
    PAGE_CONFIRMATION,
    PAGE_PRODUCT,
    PAGE_SEARCH,
    UNKNOWN_WEB_TYPES,
    WEB_TYPES,
    Plan,
)
from datagen.text import DAY
from datagen.writers import Batch

CONTACT_COLUMNS = [
    "contact_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "birth_date",
    "gender",
    "country",
    "city",
    "postal_code",
    "income_band",
    "loyalty_tier",
    "signup_at",
    "email_opt_in",
    "opt_in_at",
    "tracking_consent",
    "updated_at",
]
ORDER_COLUMNS = [
    "order_id",
    "contact_id",
    "email",
    "ordered_at",
    "status",
    "currency",
    "subtotal",
    "discount",
    "shipping",
    "total",
    "channel",
]
ITEM_COLUMNS = ["order_id", "line_number", "product_id", "quantity", "unit_price"]
PRODUCT_COLUMNS = [
    "product_id",
    "name",
    "category",
    "subcategory",
    "price",
    "currency",
    "image_url",
    "active",
]
WEB_COLUMNS = [
    "event_id",
    "anonymous_id",
    "contact_id",
    "event_type",
    "event_at",
    "page_url",
    "product_id",
    "category",
    "device_type",
    "utm_source",
    "utm_medium",
    "utm_campaign",
]
CAMPAIGN_COLUMNS = ["campaign_id", "name", "subject", "sent_at", "segment_name"]
EMAIL_COLUMNS = ["event_id", "campaign_id", "contact_id", "email", "event_type", "event_at", "url"]
PRIVACY_COLUMNS = ["request_id", "contact_id", "email", "request_type", "requested_at"]

STATUSES = ("completed", "cancelled", "refunded", "pending")
COMPLETED, CANCELLED, REFUNDED, PENDING = range(4)
ORDER_ID_SPACE = 10_000_000  # order numbers of block b are b * ORDER_ID_SPACE + 1 ...
GUEST_ORDER_BASE = 9_000_000  # true guests' orders within a block's space
ORPHAN_ORDER_BASE = 9_500_000  # order ids referenced by orphan lines, never used by an order
WEB_ID_SALT = 0x5EB0_E7E1_7000_0001
ANON_ID_SALT = 0xA110_0000_C00C_1E00
EMAIL_ID_SALT = 0xE3A1_1000_E7E1_7002
DIRT_UID = np.uint64(1 << 39)  # uid space of rows added by dirt (base rows count from 0)


def contact_ids(numbers: np.ndarray) -> pa.Array:
    """C00000042 for contact number 42 (numbers start at 1)."""
    return text.prefixed_ids("C", numbers, 8)


def order_ids(numbers: np.ndarray) -> pa.Array:
    return text.prefixed_ids("O", numbers, 10)


def product_ids(count: int) -> pa.Array:
    return text.prefixed_ids("SKU-", np.arange(1, count + 1), 5)


def _flag(n: int, rows: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _random_sort_key(rng: np.random.Generator, low: int, high: int, n: int) -> np.ndarray:
    return rng.integers(low, max(high, low + 1), size=n)


# --- contacts -------------------------------------------------------------------------------


class ContactText:
    """Text attributes of a block's contacts (base stream only)."""

    def __init__(self, seed: int, block: int, offset: int, c: dict[str, np.ndarray]) -> None:
        rng = stream(seed, "crm", block)
        n = len(c["persona"])
        self.n = n
        self.number = offset + np.arange(n) + 1
        self.first_index = rng.integers(0, len(vocab.FIRST_NAMES), size=n)
        self.last_index = rng.integers(0, len(vocab.LAST_NAMES), size=n)
        self.first = text.take(list(vocab.FIRST_NAMES), self.first_index)
        self.last = text.take(list(vocab.LAST_NAMES), self.last_index)
        first_slug = text.take([vocab.ascii_slug(x) for x in vocab.FIRST_NAMES], self.first_index)
        last_slug = text.take([vocab.ascii_slug(x) for x in vocab.LAST_NAMES], self.last_index)
        pattern = rng.integers(0, vocab.EMAIL_PATTERNS, size=n)
        domain = text.take(list(vocab.EMAIL_DOMAINS), rng.integers(0, len(vocab.EMAIL_DOMAINS), size=n))
        number = text.integers(self.number)
        local = pc.if_else(
            pa.array(pattern == 0),
            text.concat(first_slug, ".", last_slug),
            pc.if_else(
                pa.array(pattern == 1),
                text.concat(first_slug, last_slug),
                pc.if_else(
                    pa.array(pattern == 2),
                    text.concat(pc.utf8_slice_codeunits(first_slug, 0, 1), last_slug),
                    text.concat(last_slug, ".", first_slug),
                ),
            ),
        )
        # the contact number makes every address unique
        self.email = text.concat(local, number, "@", domain)
        country = c["country"].astype(np.int64)
        prefix = text.take([x[2] for x in vocab.COUNTRIES], country)
        area, middle, last = (
            rng.integers(low, high, size=n) for low, high in ((200, 1000), (0, 1000), (0, 10_000))
        )
        style = rng.integers(0, 3, size=n)
        spaced = text.concat(
            prefix,
            " ",
            text.integers(area),
            " ",
            text.from_matrix(text.digits(middle, 3)),
            " ",
            text.from_matrix(text.digits(last, 4)),
        )
        dashed = text.concat(
            "(",
            text.integers(area),
            ") ",
            text.from_matrix(text.digits(middle, 3)),
            "-",
            text.from_matrix(text.digits(last, 4)),
        )
        packed = text.concat(
            prefix,
            text.integers(area),
            text.from_matrix(text.digits(middle, 3)),
            text.from_matrix(text.digits(last, 4)),
        )
        self.phone = pc.if_else(
            pa.array(style == 0), spaced, pc.if_else(pa.array(style == 1), dashed, packed)
        )
        self.city_index = self._city(rng, country)
        self.postal = self._postal(rng, country)
        self.country = text.take([x[0] for x in vocab.COUNTRIES], country)

    @staticmethod
    def _city(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        sizes = np.array([len(x[5]) for x in vocab.COUNTRIES])
        first = np.cumsum(sizes) - sizes
        return first[country] + (rng.random(len(country)) * sizes[country]).astype(np.int64)

    @staticmethod
    def _postal(rng: np.random.Generator, country: np.ndarray) -> pa.Array:
        out = pa.nulls(len(country), pa.string())
        for index, spec in enumerate(vocab.COUNTRIES):
            rows = np.flatnonzero(country == index)
            if len(rows) == 0:
                continue
            pattern = spec[3]
            matrix = np.empty((len(rows), len(pattern)), dtype=np.uint8)
            for position, symbol in enumerate(pattern):
                if symbol == "9":
                    matrix[:, position] = 48 + rng.integers(0, 10, size=len(rows))
                elif symbol == "A":
                    matrix[:, position] = 65 + rng.integers(0, 26, size=len(rows))
                else:
                    matrix[:, position] = ord(symbol)
            out = text.replace_at(out, rows, text.from_matrix(matrix))
        return out

    @staticmethod
    def cities() -> list[str]:
        return [city for spec in vocab.COUNTRIES for city in spec[5]]


def trailing_spend(orders: dict[str, np.ndarray], who: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Spend (cents) of each contact in the 365 days up to `at`, from the base orders."""
    key = orders["owner"].astype(np.int64) * (1 << 34) + orders["at"]
    order = np.argsort(key, kind="stable")
    cumulative = np.concatenate([[0], np.cumsum(orders["total"][order])])
    sorted_key = key[order]
    upper = np.searchsorted(sorted_key, who * (1 << 34) + at, side="right")
    lower = np.searchsorted(sorted_key, who * (1 << 34) + at - 365 * DAY, side="right")
    return cumulative[upper] - cumulative[lower]


def loyalty_tier(spend_cents: np.ndarray) -> np.ndarray:
    return np.searchsorted(np.array(vocab.LOYALTY_THRESHOLDS_CENTS), spend_cents, side="right")


def share_emails(draw: DirtDraw, n: int, emails: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Family addresses: groups of 2-5 picked contacts all use the first member's address."""
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


def contact_rows(
    plan: Plan,
    block: int,
    c: dict[str, np.ndarray],
    names: ContactText,
    address: pa.Array,
    shared: np.ndarray,
    orders: dict[str, np.ndarray],
    rates: DirtConfig,
) -> Batch:
    """Current version of every contact, plus older versions, messy cells and duplicates."""
    n = names.n
    rng = stream(plan.seed, "crm", "updates", block)
    draw = DirtDraw(plan.seed, "crm", "contacts", block, rates)
    last_order = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last_order, orders["owner"], orders["at"])
    edit = c["signup_at"] + (rng.random(n) * (plan.as_of - c["signup_at"])).astype(np.int64)
    updated = np.maximum(c["signup_at"], np.where(rng.random(n) < 0.5, edit, c["signup_at"]))
    updated = np.maximum(updated, last_order + rng.integers(60, 2 * DAY, size=n))
    updated = np.maximum(updated, np.where(c["email_opt_in"], c["opt_in_at"], 0))
    updated = np.minimum(updated, plan.as_of - 60) // 60 * 60

    # older versions: earlier updated_at, the tier and opt-in of that time, sometimes another city
    candidates = np.flatnonzero(updated - c["signup_at"] >= 2 * 3600)
    versioned = draw.pick("contact_versions", candidates, base=n)
    version_rng = draw.rng("contact_versions", "content")
    n_versions = version_rng.integers(1, 4, size=len(versioned))
    v_contact, _ = segment_positions(n_versions)
    v_contact = versioned[v_contact]
    span = updated[v_contact] - c["signup_at"][v_contact]
    v_updated = (
        (c["signup_at"][v_contact] + (version_rng.random(len(v_contact)) * span).astype(np.int64)) // 60 * 60
    )
    v_updated = np.minimum(v_updated, updated[v_contact] - 60)
    moved = version_rng.random(len(v_contact)) < 0.4
    v_city = np.where(
        moved,
        ContactText._city(version_rng, c["country"][v_contact].astype(np.int64)),
        names.city_index[v_contact],
    )
    v_postal = pc.if_else(
        pa.array(moved),
        ContactText._postal(version_rng, c["country"][v_contact].astype(np.int64)),
        names.postal.take(pa.array(v_contact)),
    )

    row_contact = np.concatenate([np.arange(n), v_contact])
    row_updated = np.concatenate([updated, v_updated])
    rows = len(row_contact)
    tier = loyalty_tier(trailing_spend(orders, row_contact, row_updated))
    opted_in = c["email_opt_in"][row_contact] & (c["opt_in_at"][row_contact] <= row_updated)
    mask = np.zeros(rows, dtype=np.uint64)
    mask[n:] |= draw.bit("contact_versions")

    email = pa.concat_arrays([address, address.take(pa.array(v_contact))])
    email_claimed = np.zeros(rows, dtype=bool)
    email_claimed[shared] = True
    mask[shared] |= draw.bit("shared_email", "email")
    invalid = draw.pick("invalid_email", ~email_claimed[:n], base=n, column="email")
    email = text.replace_at(
        email,
        invalid,
        dirt.invalid_emails(draw.rng("invalid_email", "values"), email.take(pa.array(invalid))),
    )
    mask[invalid] |= draw.bit("invalid_email", "email")
    email_claimed[invalid] = True
    messy = draw.pick("email_case_space", ~email_claimed[:n], base=n, column="email")
    email = text.replace_at(
        email, messy, dirt.messy_emails(draw.rng("email_case_space", "values"), email.take(pa.array(messy)))
    )
    mask[messy] |= draw.bit("email_case_space", "email")

    columns: dict[str, pa.Array] = {
        "contact_id": contact_ids(names.number[row_contact]),
        "email": email,
        "first_name": names.first.take(pa.array(row_contact)),
        "last_name": names.last.take(pa.array(row_contact)),
        "phone": names.phone.take(pa.array(row_contact)),
        "gender": text.take(list(vocab.GENDERS), c["gender"][row_contact]),
        "country": names.country.take(pa.array(row_contact)),
        "city": text.take(ContactText.cities(), np.concatenate([names.city_index, v_city])),
        "postal_code": pa.concat_arrays([names.postal, v_postal]),
        "income_band": text.take(list(vocab.INCOME_BANDS), c["income_band"][row_contact]),
        "loyalty_tier": text.take(list(vocab.LOYALTY_TIERS), tier),
    }

    # cell-level dirt, one claim per cell: unparseable, then blank, then another format
    key_contact = np.arange(rows)
    garbage = {col: np.empty(0, dtype=np.int64) for col in ("signup_at", "updated_at")}
    unparseable = draw.pick("unparseable_timestamp", key_contact)
    which = draw.rng("unparseable_timestamp", "column").random(len(unparseable)) < 0.5
    garbage["signup_at"], garbage["updated_at"] = unparseable[which], unparseable[~which]
    blank: dict[str, np.ndarray] = {}
    for column in dirt.OPTIONAL_CONTACT_COLUMNS:
        blank[column] = draw.pick("blank_optional", key_contact, column=column)
        mask[blank[column]] |= draw.bit("blank_optional", column)
    birth_days = c["birth_day"][row_contact]
    birth_fmt = dirt.date_formats(
        draw.rng("mixed_date_formats", "birth_date"), birth_days, rates.mixed_date_formats
    )
    birth_fmt[blank["birth_date"]] = 0
    columns["birth_date"] = dirt.format_dates(birth_days, birth_fmt)
    mask[birth_fmt > 0] |= draw.bit("mixed_date_formats", "birth_date")

    opt_in_at = c["opt_in_at"][row_contact]
    stamps = {"signup_at": c["signup_at"][row_contact], "opt_in_at": opt_in_at, "updated_at": row_updated}
    for column, seconds in stamps.items():
        fmt, aux = dirt.timestamp_formats(
            draw.rng("mixed_date_formats", column), seconds, rates.mixed_date_formats
        )
        if column in garbage:
            fmt[garbage[column]] = 0
        if column == "opt_in_at":
            fmt[~opted_in] = 0
        values = dirt.format_timestamps(seconds, fmt, aux)
        if column in garbage:
            bad = garbage[column]
            values = text.replace_at(
                values, bad, dirt.garbage_timestamps(draw.rng("unparseable_timestamp", column), len(bad))
            )
            mask[bad] |= draw.bit("unparseable_timestamp", column)
        if column == "opt_in_at":
            values = pc.if_else(pa.array(opted_in), values, text.nulls(rows))
        mask[fmt > 0] |= draw.bit("mixed_date_formats", column)
        columns[column] = values

    for column, values in (
        ("email_opt_in", opted_in),
        ("tracking_consent", c["tracking_consent"][row_contact]),
    ):
        varied = draw.pick("boolean_variants", key_contact, column=column)
        text_values = dirt.booleans(values)
        variants = dirt.boolean_variants(draw.rng("boolean_variants", column), values[varied])
        columns[column] = text.replace_at(text_values, varied, variants)
        mask[varied] |= draw.bit("boolean_variants", column)

    for column, rows_blank in blank.items():
        columns[column] = text.replace_at(columns[column], rows_blank, text.nulls(len(rows_blank)))
    missing = draw.pick("missing_contact_id", key_contact)
    columns["contact_id"] = text.replace_at(columns["contact_id"], missing, text.nulls(len(missing)))
    mask[missing] |= draw.bit("missing_contact_id", "contact_id")

    batch = Batch(
        {name: columns[name] for name in CONTACT_COLUMNS}, contact_ids(names.number[row_contact]), mask
    )
    sort_key = row_updated.copy()
    batch, sort_key = _with_duplicates(draw, batch, sort_key)
    order = np.lexsort((np.arange(len(batch)), sort_key))
    return batch.take(order)


def _with_duplicates(draw: DirtDraw, batch: Batch, sort_key: np.ndarray) -> tuple[Batch, np.ndarray]:
    """Append exact copies of some rows, placed at random positions of the file."""
    copies = draw.pick("duplicate_row", np.ones(len(batch), dtype=bool))
    if len(copies) == 0:
        return batch, sort_key
    duplicate = batch.take(copies)
    duplicate.dirt = np.full(len(copies), draw.bit("duplicate_row"), dtype=np.uint64)
    where = _random_sort_key(
        draw.rng("duplicate_row", "position"), int(sort_key.min()), int(sort_key.max()), len(copies)
    )
    return Batch.concat([batch, duplicate]), np.concatenate([sort_key, where])


# --- orders and lines -----------------------------------------------------------------------


def order_rows(
    plan: Plan,
    block: int,
    c: dict[str, np.ndarray],
    names: ContactText,
    address: pa.Array,
    orders: dict[str, np.ndarray],
    rates: DirtConfig,
) -> tuple[Batch, Batch]:
    """Order headers and lines: contacts' orders, true guests' orders, and the order dirt."""
    draw = DirtDraw(plan.seed, "orders", "orders", block, rates)
    item_draw = DirtDraw(plan.seed, "orders", "order_items", block, rates)
    n = len(orders["owner"])
    number = block * ORDER_ID_SPACE + np.arange(n) + 1
    owner = orders["owner"]
    at = orders["at"].copy()
    subtotal, discount, shipping, total = (
        orders[k].copy() for k in ("subtotal", "discount", "shipping", "total")
    )
    currency = np.zeros(n, dtype=np.int64)
    channel = orders["channel"].astype(np.int64)
    contact = text.take(contact_ids(names.number), owner)
    email = address.take(pa.array(owner))
    mask = np.zeros(n, dtype=np.uint64)
    item_order, item_line = orders["item_order"], orders["item_line"]
    item_product, item_quantity = orders["item_product"], orders["item_quantity"].copy()
    item_unit = orders["item_unit"].copy()

    guests = draw.pick("guest_checkout", np.ones(n, dtype=bool))
    guest_rng = draw.rng("guest_checkout", "email")
    messy = guest_rng.random(len(guests)) < 0.7
    guest_email = email.take(pa.array(guests))
    guest_email = pc.if_else(pa.array(messy), dirt.messy_emails(guest_rng, guest_email), guest_email)
    contact = text.replace_at(contact, guests, text.nulls(len(guests)))
    email = text.replace_at(email, guests, guest_email)
    mask[guests] |= draw.bit("guest_checkout", "contact_id")

    # local currency for contacts outside the US
    local_currency = np.array([CURRENCIES.index(x[4]) for x in vocab.COUNTRIES])[c["country"][owner]]
    foreign = draw.pick("foreign_currency", local_currency > 0, base=n)
    if len(foreign):
        rate = units_per_usd(local_currency[foreign], at[foreign])
        currency[foreign] = local_currency[foreign]
        line_rate = np.ones(len(item_order))
        in_foreign = _flag(n, foreign)[item_order]
        full_rate = np.ones(n)
        full_rate[foreign] = rate
        line_rate[in_foreign] = full_rate[item_order[in_foreign]]
        item_unit = np.round(item_unit * line_rate).astype(np.int64)
        new_subtotal = np.bincount(item_order, weights=item_unit * item_quantity, minlength=n).astype(
            np.int64
        )
        ratio = discount[foreign] / np.maximum(subtotal[foreign], 1)
        subtotal[foreign] = new_subtotal[foreign]
        discount[foreign] = np.round(subtotal[foreign] * ratio).astype(np.int64)
        shipping[foreign] = np.round(shipping[foreign] * rate).astype(np.int64)
        total[foreign] = subtotal[foreign] - discount[foreign] + shipping[foreign]
        mask[foreign] |= draw.bit("foreign_currency", "currency")

    status = np.zeros(n, dtype=np.int64)
    changed = draw.pick("non_completed_status", np.ones(n, dtype=bool))
    status_rng = draw.rng("non_completed_status", "which")
    new_status = status_rng.choice([CANCELLED, REFUNDED, PENDING], size=len(changed), p=[0.4, 0.45, 0.15])
    recent = at[changed] >= plan.as_of - 3 * DAY
    new_status = np.where((new_status == PENDING) & ~recent, REFUNDED, new_status)
    status[changed] = new_status
    mask[changed] |= draw.bit("non_completed_status", "status")

    # totals: one defect per total
    claimed = np.zeros(n, dtype=bool)
    for kind in ("negative_total", "absurd_total", "amount_mismatch"):
        rows = draw.pick(kind, ~claimed, base=n, column="total")
        claimed[rows] = True
        values_rng = draw.rng(kind, "values")
        if kind == "negative_total":
            total[rows] = -np.abs(total[rows]) - 1
        elif kind == "absurd_total":
            total[rows] = values_rng.integers(100_000_000, 10_000_000_000, size=len(rows))
        else:
            total[rows] = total[rows] + values_rng.choice([-1, 1], size=len(rows)) * values_rng.integers(
                1, 2000, size=len(rows)
            )
        mask[rows] |= draw.bit(kind, "total")
    unknown = draw.pick("unknown_currency", ~_flag(n, foreign), base=n, column="currency")
    mask[unknown] |= draw.bit("unknown_currency", "currency")

    fmt, aux = dirt.timestamp_formats(
        draw.rng("mixed_date_formats", "ordered_at"), at, rates.mixed_date_formats
    )
    bad_time = draw.pick("unparseable_timestamp", np.ones(n, dtype=bool), column="ordered_at")
    fmt[bad_time] = 0
    ordered_at = dirt.format_timestamps(at, fmt, aux)
    ordered_at = text.replace_at(
        ordered_at,
        bad_time,
        dirt.garbage_timestamps(draw.rng("unparseable_timestamp", "values"), len(bad_time)),
    )
    mask[fmt > 0] |= draw.bit("mixed_date_formats", "ordered_at")
    mask[bad_time] |= draw.bit("unparseable_timestamp", "ordered_at")

    currency_text = text.take(list(CURRENCIES), currency)
    currency_text = text.replace_at(currency_text, unknown, ["XXX"] * len(unknown))
    export_at = at.copy()
    settled = status != COMPLETED
    export_at[settled] = at[settled] + draw.rng("non_completed_status", "export").integers(
        3600, 14 * DAY, size=settled.sum()
    )
    export_at = np.minimum(export_at, plan.as_of - 1)
    headers = Batch(
        {
            "order_id": order_ids(number),
            "contact_id": contact,
            "email": email,
            "ordered_at": ordered_at,
            "status": text.take(list(STATUSES), status),
            "currency": currency_text,
            "subtotal": text.money(subtotal),
            "discount": text.money(discount),
            "shipping": text.money(shipping),
            "total": text.money(total),
            "channel": text.take(list(vocab.ORDER_CHANNELS), channel),
        },
        order_ids(number),
        mask,
    )

    # an earlier export of the same order with its earlier status
    earlier = draw.pick("status_versions", status != PENDING, base=n, column="status")
    earlier_status = np.where(status[earlier] == COMPLETED, PENDING, COMPLETED)
    previous = headers.take(earlier)
    previous.columns["status"] = text.take(list(STATUSES), earlier_status)
    previous.dirt = np.full(len(earlier), draw.bit("status_versions", "status"), dtype=np.uint64)
    export_at[earlier] = np.maximum(export_at[earlier], at[earlier] + 3600)
    export_at = np.minimum(export_at, plan.as_of - 1)

    guest_headers, guest_items, guest_export = _true_guest_orders(plan, block, draw, n)
    header_parts = [headers, previous, guest_headers]
    sort_key = np.concatenate([export_at, at[earlier], guest_export])
    all_headers = Batch.concat(header_parts)
    all_headers, sort_key = _with_duplicates(draw, all_headers, sort_key)
    order = np.lexsort((np.arange(len(all_headers)), sort_key))
    all_headers = all_headers.take(order)

    items = _item_batch(
        order_ids(number[item_order]),
        item_line,
        product_ids(plan.catalog.size),
        item_product,
        item_quantity,
        item_unit,
    )
    items = Batch.concat([items, guest_items])
    return all_headers, _item_dirt(plan, block, item_draw, items)


def _true_guest_orders(plan: Plan, block: int, draw: DirtDraw, n: int) -> tuple[Batch, Batch, np.ndarray]:
    """Orders by people who are not contacts: new e-mails, no contact_id."""
    rng = draw.rng("guest_unknown", "orders")
    k = stochastic_count(rng, n, draw.rates.guest_unknown)
    catalog = plan.catalog
    number = block * ORDER_ID_SPACE + GUEST_ORDER_BASE + np.arange(k) + 1
    at = plan.calendar.sample(
        "regular", np.full(k, plan.history_start), np.full(k, plan.as_of), rng.random(k)
    )
    n_lines = 1 + rng.poisson(0.8, size=k)
    line_order, line_number = segment_positions(n_lines)
    product = catalog.popular(rng, rng.integers(0, len(vocab.CATEGORIES), size=len(line_order)))
    product = catalog.available(product, at[line_order])
    unit = catalog.price_cents[product]
    quantity = np.ones(len(line_order), dtype=np.int64)
    subtotal = np.bincount(line_order, weights=unit, minlength=k).astype(np.int64)
    shipping = np.where(subtotal >= 7500, 0, 599)
    first = rng.integers(0, len(vocab.FIRST_NAMES), size=k)
    last = rng.integers(0, len(vocab.LAST_NAMES), size=k)
    email = text.concat(
        text.take([vocab.ascii_slug(x) for x in vocab.FIRST_NAMES], first),
        ".",
        text.take([vocab.ascii_slug(x) for x in vocab.LAST_NAMES], last),
        ".g",
        text.integers(number),
        "@",
        text.take(list(vocab.EMAIL_DOMAINS), rng.integers(0, len(vocab.EMAIL_DOMAINS), size=k)),
    )
    headers = Batch(
        {
            "order_id": order_ids(number),
            "contact_id": text.nulls(k),
            "email": email,
            "ordered_at": text.iso_timestamps(at),
            "status": text.take(list(STATUSES), np.zeros(k, np.int64)),
            "currency": text.take(list(CURRENCIES), np.zeros(k, np.int64)),
            "subtotal": text.money(subtotal),
            "discount": text.money(np.zeros(k, np.int64)),
            "shipping": text.money(shipping),
            "total": text.money(subtotal + shipping),
            "channel": text.take(list(vocab.ORDER_CHANNELS), np.zeros(k, np.int64)),
        },
        order_ids(number),
        np.full(k, draw.bit("guest_unknown"), dtype=np.uint64),
    )
    items = _item_batch(
        order_ids(number[line_order]), line_number + 1, product_ids(catalog.size), product, quantity, unit
    )
    return headers, items, at


def _item_batch(
    order_id: pa.Array,
    line: np.ndarray,
    all_product_ids: pa.Array,
    product: np.ndarray,
    quantity: np.ndarray,
    unit: np.ndarray,
) -> Batch:
    key = text.concat(order_id, "/", text.integers(line))
    columns = {
        "order_id": order_id,
        "line_number": text.integers(line),
        "product_id": all_product_ids.take(pa.array(product)),
        "quantity": text.integers(quantity),
        "unit_price": text.money(unit),
    }
    return Batch(columns, key, np.zeros(len(line), dtype=np.uint64))


def _item_dirt(plan: Plan, block: int, draw: DirtDraw, items: Batch) -> Batch:
    n = len(items)
    mask = items.dirt
    messy = draw.pick("messy_product_id", np.ones(n, dtype=bool), column="product_id")
    items.columns["product_id"] = text.replace_at(
        items.columns["product_id"],
        messy,
        dirt.messy_product_ids(
            draw.rng("messy_product_id", "values"), items.columns["product_id"].take(pa.array(messy))
        ),
    )
    mask[messy] |= draw.bit("messy_product_id", "product_id")
    bad_quantity = draw.pick("non_positive_quantity", np.ones(n, dtype=bool), column="quantity")
    values = draw.rng("non_positive_quantity", "values").choice(["0", "-1", "-2"], size=len(bad_quantity))
    items.columns["quantity"] = text.replace_at(items.columns["quantity"], bad_quantity, list(values))
    mask[bad_quantity] |= draw.bit("non_positive_quantity", "quantity")

    rng = draw.rng("orphan_item", "rows")
    k = stochastic_count(rng, n, draw.rates.orphan_item)
    orphan_number = block * ORDER_ID_SPACE + ORPHAN_ORDER_BASE + np.arange(k) + 1
    product = rng.integers(0, plan.catalog.size, size=k)
    orphans = _item_batch(
        order_ids(orphan_number),
        np.ones(k, dtype=np.int64),
        product_ids(plan.catalog.size),
        product,
        np.ones(k, dtype=np.int64),
        plan.catalog.price_cents[product],
    )
    orphans.dirt[:] = draw.bit("orphan_item", "order_id")
    sort_key = np.concatenate([np.arange(n) * 4, rng.integers(0, max(4 * n, 1), size=k)])
    batch, sort_key = _with_duplicates(draw, Batch.concat([items, orphans]), sort_key)
    return batch.take(np.lexsort((np.arange(len(batch)), sort_key)))


# --- catalog, campaigns, privacy --------------------------------------------------------------


def product_rows(plan: Plan, rates: DirtConfig) -> Batch:
    """One row per product; a product with an older price has that row first (the last row wins)."""
    catalog = plan.catalog
    n = catalog.size
    draw = DirtDraw(plan.seed, "catalog", "products", 0, rates)
    ids = product_ids(n)
    active = catalog.discontinued_at < 0
    mask = np.zeros(n, dtype=np.uint64)
    mask[~active] |= draw.bit("inactive_product", "active")
    image = text.concat(vocab.CDN_URL + "/", pc.utf8_lower(ids), ".jpg")
    columns = {
        "product_id": ids,
        "name": catalog.names,
        "category": text.take(list(vocab.CATEGORY_NAMES), catalog.category),
        "subcategory": text.take(catalog.subcategory_names, catalog.subcategory),
        "price": text.money(catalog.price_cents),
        "currency": text.take(["USD"], np.zeros(n, np.int64)),
        "image_url": image,
        "active": dirt.booleans(active),
    }
    current = Batch(columns, ids, mask)
    older = draw.pick("product_versions", np.ones(n, dtype=bool), column="price")
    previous = current.take(older)
    factor = draw.rng("product_versions", "price").choice([0.8, 0.85, 0.9, 1.1, 1.15, 1.25], size=len(older))
    old_price = (np.floor(catalog.price_cents[older] * factor / 100) * 100 + 99).astype(np.int64)
    previous.columns["price"] = text.money(old_price)
    previous.dirt = np.full(len(older), draw.bit("product_versions", "price"), dtype=np.uint64)
    rows = Batch.concat([current, previous])
    varied = draw.pick("boolean_variants", np.ones(len(rows), dtype=bool), column="active")
    active_rows = np.concatenate([active, active[older]])
    rows.columns["active"] = text.replace_at(
        rows.columns["active"],
        varied,
        dirt.boolean_variants(draw.rng("boolean_variants", "values"), active_rows[varied]),
    )
    rows.dirt[varied] |= draw.bit("boolean_variants", "active")
    messy = draw.pick("messy_product_id", np.ones(len(rows), dtype=bool), column="product_id")
    rows.columns["product_id"] = text.replace_at(
        rows.columns["product_id"],
        messy,
        dirt.messy_product_ids(
            draw.rng("messy_product_id", "values"), rows.columns["product_id"].take(pa.array(messy))
        ),
    )
    rows.dirt[messy] |= draw.bit("messy_product_id", "product_id")
    # older version just before the current row
    position = np.concatenate([np.arange(n) * 2 + 1, older * 2]).astype(np.int64)
    return rows.take(np.argsort(position, kind="stable"))


def campaign_rows(plan: Plan) -> Batch:
    campaigns = plan.campaigns
    ids = pa.array(campaigns.ids, pa.string())
    segment = np.where(campaigns.segment_known, campaigns.segment, -1)
    columns = {
        "campaign_id": ids,
        "name": pa.array(campaigns.names, pa.string()),
        "subject": pa.array(campaigns.subjects, pa.string()),
        "sent_at": text.iso_timestamps(campaigns.sent_at),
        "segment_name": text.take([s[0] for s in vocab.CAMPAIGN_SEGMENTS], segment),
    }
    return Batch(columns, ids, np.zeros(campaigns.size, dtype=np.uint64))


def privacy_requests(
    plan: Plan, block: int, c: dict[str, np.ndarray], names: ContactText, address: pa.Array, rates: DirtConfig
) -> pa.Table:
    """Requests of this block, still without request ids (numbered once all blocks are known)."""
    draw = DirtDraw(plan.seed, "privacy", "requests", block, rates)
    n = names.n
    who = draw.pick("privacy_request", np.ones(n, dtype=bool))
    rng = draw.rng("privacy_request", "content")
    start = np.maximum(c["signup_at"][who], plan.as_of - 365 * DAY)
    at = start + (rng.random(len(who)) * (plan.as_of - start)).astype(np.int64)
    kind = np.where(rng.random(len(who)) < 0.4, "erasure", "opt_out")
    email_only = _flag(len(who), draw.pick("privacy_email_only", np.ones(len(who), dtype=bool)))
    email = address.take(pa.array(who))
    email = pc.if_else(
        pa.array(email_only), dirt.messy_emails(draw.rng("privacy_email_only", "values"), email), email
    )
    contact = pc.if_else(pa.array(email_only), text.nulls(len(who)), contact_ids(names.number[who]))
    mask = np.full(len(who), draw.bit("privacy_request"), dtype=np.uint64)
    mask[email_only] |= draw.bit("privacy_email_only", "email")
    return pa.table(
        {
            "contact_id": contact,
            "email": email,
            "request_type": pa.array(kind, pa.string()),
            "requested_at": pa.array(at, pa.int64()),
            "contact_number": pa.array(names.number[who], pa.int64()),
            "dirt": pa.array(mask, pa.uint64()),
        }
    )


def privacy_rows(requests: pa.Table) -> Batch:
    order = np.lexsort(
        (requests.column("contact_number").to_numpy(), requests.column("requested_at").to_numpy())
    )
    requests = requests.take(pa.array(order))
    ids = text.prefixed_ids("PR-", np.arange(1, requests.num_rows + 1), 7)
    columns = {
        "request_id": ids,
        "contact_id": requests.column("contact_id").combine_chunks(),
        "email": requests.column("email").combine_chunks(),
        "request_type": requests.column("request_type").combine_chunks(),
        "requested_at": text.iso_timestamps(requests.column("requested_at").to_numpy()),
    }
    return Batch(columns, ids, requests.column("dirt").to_numpy().astype(np.uint64))


# --- web events: numeric rows for the spool, then text per chunk -------------------------------


def web_spool_rows(
    plan: Plan, block: int, offset: int, web: dict[str, np.ndarray], rates: DirtConfig
) -> pa.Table:
    """Numeric web rows of a block with the web dirt overlay (bots, late, duplicates, ...)."""
    draw = DirtDraw(plan.seed, "web", "events", block, rates)
    n = len(web["type"])
    uid = (np.uint64(block) << np.uint64(40)) + np.arange(n, dtype=np.uint64)
    rows = {
        "uid": uid,
        "anon": np.uint64(offset * MAX_DEVICES) + web["anon"].astype(np.uint64),
        "contact": np.where(web["identified"], offset + web["contact"] + 1, 0).astype(np.int64),
        "type": web["type"].astype(np.int8),
        "at": web["at"].astype(np.int64),
        "page": web["page"].astype(np.int8),
        "param": np.where(
            web["page"] == PAGE_CONFIRMATION, block * ORDER_ID_SPACE + web["param"] + 1, web["param"]
        ),
        "product": web["product"].astype(np.int64),
        "category": web["category"].astype(np.int8),
        "device": web["device"].astype(np.int8),
        "utm": web["utm"].astype(np.int64),
        "dirt": np.zeros(n, dtype=np.uint64),
    }
    # without consent the events are not collected, except for the leaking share
    no_consent_contacts = np.unique(web["contact"][~web["consent"]])
    leaking = no_consent_contacts[
        draw.pick("no_consent_tracking", np.ones(len(no_consent_contacts), dtype=bool))
    ]
    leaked = ~web["consent"] & np.isin(web["contact"], leaking)
    keep = web["consent"] | leaked
    rows["dirt"][leaked] |= draw.bit("no_consent_tracking")
    rows = {k: v[keep] for k, v in rows.items()}
    humans = len(np.unique(rows["anon"]))

    extra = [_bots(plan, block, draw, humans), _unknown_types(draw, rows, block)]
    rows = {k: np.concatenate([rows[k]] + [e[k] for e in extra]) for k in rows}
    m = len(rows["uid"])
    fmt, aux = dirt.timestamp_formats(
        draw.rng("mixed_date_formats", "event_at"), rows["at"], rates.mixed_date_formats
    )
    rows["fmt"], rows["aux"] = fmt, aux
    rows["dirt"][fmt > 0] |= draw.bit("mixed_date_formats", "event_at")
    rows["arrival"] = rows["at"].copy()
    period = plan.period_of(rows["at"])
    period_end = plan.period_start(period + 1)
    base = np.flatnonzero((rows["uid"] & DIRT_UID) == 0)
    eligible = base[(period[base] < plan.n_periods - 1) & (rows["at"][base] <= period_end[base] - DAY)]
    late = draw.pick("late_arriving", eligible, base=len(base), column="event_at")
    late_rng = draw.rng("late_arriving", "arrival")
    next_start = period_end[late]
    window = np.minimum(np.minimum(2 * DAY, plan.chunk_seconds), plan.as_of - next_start)
    rows["arrival"][late] = next_start + (late_rng.random(len(late)) * np.maximum(window - 1, 0)).astype(
        np.int64
    )
    rows["dirt"][late] |= draw.bit("late_arriving", "event_at")
    rows = _duplicate_events(plan, draw, rows, m)
    rows["period"] = plan.period_of(rows["arrival"])
    return pa.table({k: pa.array(v) for k, v in rows.items()})


def _bots(plan: Plan, block: int, draw: DirtDraw, humans: int) -> dict[str, np.ndarray]:
    rng = draw.rng("bot_traffic", "events")
    bots = stochastic_count(rng, humans, draw.rates.bot_traffic)
    bursts = 1 + rng.binomial(1, 0.4, size=bots)
    burst_bot, _ = segment_positions(bursts)
    burst_size = rng.integers(150, 600, size=len(burst_bot))
    burst_start = rng.integers(plan.history_start, plan.as_of - 3600, size=len(burst_bot))
    burst_length = rng.integers(5, 40, size=len(burst_bot))
    burst, _ = segment_positions(burst_size)
    k = len(burst)
    at = burst_start[burst] + (rng.random(k) * burst_length[burst]).astype(np.int64)
    product_view = rng.random(k) < 0.1
    product = np.where(product_view, rng.integers(0, plan.catalog.size, size=k), -1)
    return {
        "uid": (np.uint64(block) << np.uint64(40)) + DIRT_UID + np.arange(k, dtype=np.uint64),
        "anon": (np.uint64(1) << np.uint64(60))
        + (np.uint64(block) << np.uint64(32))
        + burst_bot[burst].astype(np.uint64),
        "contact": np.zeros(k, dtype=np.int64),
        "type": np.where(product_view, 1, 0).astype(np.int8),
        "at": at,
        "page": np.where(product_view, PAGE_PRODUCT, 0).astype(np.int8),
        "param": product,
        "product": product,
        "category": np.where(product_view, plan.catalog.category[np.maximum(product, 0)], -1).astype(np.int8),
        "device": np.zeros(k, dtype=np.int8),
        "utm": np.full(k, -1, dtype=np.int64),
        "dirt": np.full(k, draw.bit("bot_traffic", "anonymous_id"), dtype=np.uint64),
    }


def _unknown_types(draw: DirtDraw, rows: dict[str, np.ndarray], block: int) -> dict[str, np.ndarray]:
    source = draw.pick("unknown_event_type", np.ones(len(rows["uid"]), dtype=bool), column="event_type")
    rng = draw.rng("unknown_event_type", "values")
    extra = {k: v[source].copy() for k, v in rows.items()}
    k = len(source)
    extra["uid"] = (
        (np.uint64(block) << np.uint64(40))
        + DIRT_UID
        + (np.uint64(1) << np.uint64(38))
        + np.arange(k, dtype=np.uint64)
    )
    extra["type"] = (len(WEB_TYPES) + rng.integers(0, len(UNKNOWN_WEB_TYPES), size=k)).astype(np.int8)
    extra["at"] = extra["at"] + rng.integers(1, 30, size=k)
    extra["product"] = np.full(k, -1, dtype=np.int64)
    extra["utm"] = np.full(k, -1, dtype=np.int64)
    extra["dirt"] = extra["dirt"] | draw.bit("unknown_event_type", "event_type")  # keeps no_consent_tracking
    return extra


def _duplicate_events(
    plan: Plan, draw: DirtDraw, rows: dict[str, np.ndarray], m: int
) -> dict[str, np.ndarray]:
    """Re-sent events: same id and content, arriving a little later (possibly in a later chunk)."""
    copies = draw.pick("duplicate_event", np.ones(m, dtype=bool), column="event_id")
    rng = draw.rng("duplicate_event", "arrival")
    extra = {k: v[copies].copy() for k, v in rows.items()}
    extra["arrival"] = np.minimum(
        extra["arrival"] + rng.integers(60, 3 * DAY, size=len(copies)), plan.as_of - 1
    )
    extra["dirt"] = np.full(len(copies), draw.bit("duplicate_event", "event_id"), dtype=np.uint64)
    return {k: np.concatenate([rows[k], extra[k]]) for k in rows}


def web_rows(plan: Plan, chunk: pa.Table, pages: tuple[pa.Array, np.ndarray]) -> Batch:
    catalog = plan.catalog
    column = {name: chunk.column(name).to_numpy() for name in chunk.column_names}
    n = chunk.num_rows
    event_id = text.hex_ids(mix64(column["uid"], WEB_ID_SALT))
    anonymous_id = text.hex_ids(mix64(column["anon"], ANON_ID_SALT))
    contact = column["contact"]
    contact_id = pc.if_else(pa.array(contact > 0), contact_ids(np.maximum(contact, 1)), text.nulls(n))
    event_type = text.take(list(WEB_TYPES + UNKNOWN_WEB_TYPES), column["type"])
    event_at = dirt.format_timestamps(column["at"], column["fmt"], column["aux"])
    urls, url_offset = pages
    page = column["page"].astype(np.int64)
    param = column["param"]
    url_index = url_offset[page] + np.where(
        np.isin(page, [PAGE_CATEGORY, PAGE_SEARCH, PAGE_PRODUCT, PAGE_CAMPAIGN]), param, 0
    )
    page_url = text.take(urls, url_index)
    confirmation = np.flatnonzero(page == PAGE_CONFIRMATION)
    page_url = text.replace_at(
        page_url,
        confirmation,
        text.concat(vocab.SHOP_URL + "/checkout/confirmation?order=", order_ids(param[confirmation])),
    )
    product = column["product"]
    utm = column["utm"]
    ads = vocab.AD_TRAFFIC
    email_utm = utm >= 0
    ad_index = np.where(utm <= -2, -2 - utm, -1)
    utm_source = pc.if_else(
        pa.array(email_utm),
        text.take([vocab.EMAIL_UTM_SOURCE], np.zeros(n, np.int64)),
        text.take([a[0] for a in ads], ad_index),
    )
    utm_medium = pc.if_else(
        pa.array(email_utm),
        text.take([vocab.EMAIL_UTM_MEDIUM], np.zeros(n, np.int64)),
        text.take([a[1] for a in ads], ad_index),
    )
    utm_campaign = pc.if_else(
        pa.array(email_utm),
        text.take(plan.campaigns.ids, np.where(email_utm, utm, -1)),
        text.take([a[2] for a in ads], ad_index),
    )
    columns = {
        "event_id": event_id,
        "anonymous_id": anonymous_id,
        "contact_id": contact_id,
        "event_type": event_type,
        "event_at": event_at,
        "page_url": page_url,
        "product_id": text.take(product_ids(catalog.size), product),
        "category": text.take(list(vocab.CATEGORY_NAMES), column["category"].astype(np.int64)),
        "device_type": text.take(list(vocab.DEVICES), column["device"].astype(np.int64)),
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "utm_campaign": utm_campaign,
    }
    return Batch(columns, event_id, column["dirt"].astype(np.uint64))


def page_vocabulary(plan: Plan) -> tuple[pa.Array, np.ndarray]:
    """All static page URLs in one array, with the offset of each page kind."""
    shop = vocab.SHOP_URL
    product_urls = text.concat(shop + "/p/", pc.utf8_lower(product_ids(plan.catalog.size))).to_pylist()
    groups = [
        [shop + "/"],  # home
        [f"{shop}/c/{name}" for name in vocab.CATEGORY_NAMES],
        product_urls,
        [f"{shop}/search?q={term.replace(' ', '+')}" for term in vocab.SEARCH_TERMS],
        [shop + "/cart"],
        [shop + "/checkout"],
        [shop + "/checkout/confirmation"],
        [shop + "/account/login"],
        plan.campaigns.urls.to_pylist(),
    ]
    offsets = np.cumsum([0] + [len(g) for g in groups])[:-1]
    return pa.array([u for g in groups for u in g], pa.string()), offsets


# --- e-mail events ------------------------------------------------------------------------------


def email_spool_rows(
    plan: Plan, block: int, offset: int, email: dict[str, np.ndarray], rates: DirtConfig
) -> pa.Table:
    """Numeric e-mail rows of a block with machine opens, repeated opens, duplicates and date formats."""
    draw = DirtDraw(plan.seed, "email", "events", block, rates)
    n = len(email["type"])
    rows = {
        "uid": (np.uint64(block) << np.uint64(40)) + np.arange(n, dtype=np.uint64),
        "campaign": email["campaign"].astype(np.int64),
        "contact": (offset + email["contact"] + 1).astype(np.int64),
        "type": email["type"].astype(np.int8),
        "at": email["at"].astype(np.int64),
        "dirt": np.zeros(n, dtype=np.uint64),
    }
    delivered = np.flatnonzero(rows["type"] == EMAIL_TYPES.index("delivered"))
    recipients = np.unique(rows["contact"][delivered])
    proxied = recipients[draw.pick("machine_opens", np.ones(len(recipients), dtype=bool))]
    machine = delivered[np.isin(rows["contact"][delivered], proxied)]
    rng = draw.rng("machine_opens", "delay")
    machine_rows = {k: v[machine].copy() for k, v in rows.items()}
    machine_rows["uid"] = (
        (np.uint64(block) << np.uint64(40)) + DIRT_UID + np.arange(len(machine), dtype=np.uint64)
    )
    machine_rows["type"][:] = OPEN
    machine_rows["at"] = machine_rows["at"] + rng.integers(0, 3, size=len(machine))
    machine_rows["dirt"][:] = draw.bit("machine_opens", "event_type")

    opens = np.flatnonzero(rows["type"] == OPEN)
    repeated = draw.pick("repeated_opens", opens, base=len(opens), column="event_type")
    repeat_rng = draw.rng("repeated_opens", "times")
    times = 1 + repeat_rng.binomial(2, 0.3, size=len(repeated))
    source, _ = segment_positions(times)
    repeat_rows = {k: v[repeated[source]].copy() for k, v in rows.items()}
    k = len(source)
    repeat_rows["uid"] = (
        (np.uint64(block) << np.uint64(40))
        + DIRT_UID
        + (np.uint64(1) << np.uint64(38))
        + np.arange(k, dtype=np.uint64)
    )
    repeat_rows["at"] = repeat_rows["at"] + (repeat_rng.exponential(6 * 3600, size=k)).astype(np.int64) + 30
    repeat_rows["dirt"][:] = draw.bit("repeated_opens", "event_type")
    rows = {key: np.concatenate([rows[key], machine_rows[key], repeat_rows[key]]) for key in rows}
    kept = rows["at"] < plan.as_of
    rows = {key: value[kept] for key, value in rows.items()}
    m = len(rows["uid"])
    fmt, aux = dirt.timestamp_formats(
        draw.rng("mixed_date_formats", "event_at"), rows["at"], rates.mixed_date_formats
    )
    rows["fmt"], rows["aux"] = fmt, aux
    rows["dirt"][fmt > 0] |= draw.bit("mixed_date_formats", "event_at")
    rows["arrival"] = rows["at"].copy()
    rows = _duplicate_events(plan, draw, rows, m)
    rows["period"] = plan.period_of(rows["arrival"])
    return pa.table({key: pa.array(value) for key, value in rows.items()})


def email_rows(plan: Plan, chunk: pa.Table, esp_emails: pa.Array) -> Batch:
    column = {name: chunk.column(name).to_numpy() for name in chunk.column_names}
    event_id = text.hex_ids(mix64(column["uid"], EMAIL_ID_SALT))
    kind = column["type"].astype(np.int64)
    url = pc.if_else(
        pa.array(kind == EMAIL_TYPES.index("click")),
        plan.campaigns.urls.take(pa.array(column["campaign"])),
        text.nulls(chunk.num_rows),
    )
    columns = {
        "event_id": event_id,
        "campaign_id": text.take(plan.campaigns.ids, column["campaign"]),
        "contact_id": contact_ids(column["contact"]),
        "email": esp_emails.take(pa.array(column["contact"] - 1)),
        "event_type": text.take(list(EMAIL_TYPES), kind),
        "event_at": dirt.format_timestamps(column["at"], column["fmt"], column["aux"]),
        "url": url,
    }
    return Batch(columns, event_id, column["dirt"].astype(np.uint64))
