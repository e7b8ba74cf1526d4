"""crm/contacts: every contact's current version, older versions, messy cells and duplicates."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import dirt, text, vocab
from datagen.batch import Batch
from datagen.config import DirtConfig
from datagen.dirt import DirtDraw
from datagen.rng import segment_positions, stream
from datagen.simulate.plan import Plan
from datagen.tables.ids import contact_ids
from datagen.text import DAY

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
        area_text = text.integers(area)
        middle_text = text.from_matrix(text.digits(middle, 3))
        last_text = text.from_matrix(text.digits(last, 4))
        spaced = text.concat(prefix, " ", area_text, " ", middle_text, " ", last_text)
        dashed = text.concat("(", area_text, ") ", middle_text, "-", last_text)
        packed = text.concat(prefix, area_text, middle_text, last_text)
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
    batch, sort_key = dirt.with_duplicates(draw, batch, sort_key)
    order = np.lexsort((np.arange(len(batch)), sort_key))
    return batch.take(order)
