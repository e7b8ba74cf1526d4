"""web/events: numeric rows with the web dirt for the spool, then their text chunk by chunk."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import dirt, text, vocab
from datagen.batch import Batch
from datagen.config import DirtConfig
from datagen.dirt import DirtDraw
from datagen.personas import MAX_DEVICES
from datagen.rng import mix64, segment_positions, stochastic_count
from datagen.simulate.plan import Plan
from datagen.simulate.web import (
    PAGE_CAMPAIGN,
    PAGE_CATEGORY,
    PAGE_CONFIRMATION,
    PAGE_PRODUCT,
    PAGE_SEARCH,
    UNKNOWN_WEB_TYPES,
    WEB_TYPES,
)
from datagen.tables.ids import (
    DIRT_UID,
    ORDER_ID_SPACE,
    contact_ids,
    dirt_uids,
    event_uids,
    order_ids,
    product_ids,
)
from datagen.text import DAY

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
WEB_ID_SALT = 0x5EB0_E7E1_7000_0001
ANON_ID_SALT = 0xA110_0000_C00C_1E00


def web_spool_rows(
    plan: Plan, block: int, offset: int, web: dict[str, np.ndarray], rates: DirtConfig
) -> pa.Table:
    """Numeric web rows of a block with the web dirt overlay (bots, late, duplicates, ...)."""
    draw = DirtDraw(plan.seed, "web", "events", block, rates)
    n = len(web["type"])
    rows = {
        "uid": event_uids(block, n),
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
    dirt.format_event_times(draw, rows)
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
    rows = dirt.duplicate_events(draw, rows, plan.as_of)
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
        "uid": dirt_uids(block, k),
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
    extra["uid"] = dirt_uids(block, k, lane=1)
    extra["type"] = (len(WEB_TYPES) + rng.integers(0, len(UNKNOWN_WEB_TYPES), size=k)).astype(np.int8)
    extra["at"] = extra["at"] + rng.integers(1, 30, size=k)
    extra["product"] = np.full(k, -1, dtype=np.int64)
    extra["utm"] = np.full(k, -1, dtype=np.int64)
    extra["dirt"] = extra["dirt"] | draw.bit("unknown_event_type", "event_type")  # keeps no_consent_tracking
    return extra


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
