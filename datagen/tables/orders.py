"""orders/orders and orders/order_items: contacts' and true guests' orders with the order dirt."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import dirt, text, vocab
from datagen.batch import Batch
from datagen.config import DirtConfig
from datagen.currency import CURRENCIES, units_per_usd
from datagen.dirt import DirtDraw
from datagen.rng import mask_of, segment_positions, stochastic_count
from datagen.simulate.plan import Plan
from datagen.tables.crm import ContactText
from datagen.tables.ids import ORDER_ID_SPACE, contact_ids, order_ids, product_ids
from datagen.text import DAY

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
    "updated_at",
]
ITEM_COLUMNS = ["order_id", "line_number", "product_id", "quantity", "unit_price"]
STATUSES = ("completed", "cancelled", "refunded", "pending")
COMPLETED, CANCELLED, REFUNDED, PENDING = range(4)
GUEST_ORDER_BASE = 9_000_000  # true guests' orders within a block's space
ORPHAN_ORDER_BASE = 9_500_000  # order ids referenced by orphan lines, never used by an order


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
        in_foreign = mask_of(n, foreign)[item_order]
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
    unknown = draw.pick("unknown_currency", ~mask_of(n, foreign), base=n, column="currency")
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
    # updated_at: when each version was exported, so the pipeline knows a status from then on only.
    headers.columns["updated_at"] = text.iso_timestamps(np.maximum(export_at, at))
    previous.columns["updated_at"] = text.iso_timestamps(at[earlier])

    guest_headers, guest_items, guest_export = _true_guest_orders(plan, block, draw, n)
    header_parts = [headers, previous, guest_headers]
    sort_key = np.concatenate([export_at, at[earlier], guest_export])
    all_headers = Batch.concat(header_parts)
    all_headers, sort_key = dirt.with_duplicates(draw, all_headers, sort_key)
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
            "updated_at": text.iso_timestamps(at),
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
    batch, sort_key = dirt.with_duplicates(draw, Batch.concat([items, orphans]), sort_key)
    return batch.take(np.lexsort((np.arange(len(batch)), sort_key)))
