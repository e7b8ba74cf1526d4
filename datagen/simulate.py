"""Behaviour of one block of contacts: orders (past and future), e-mail engagement, web sessions.

Everything here is numeric (indices, seconds, cents); datagen.tables turns it into text. Every
function draws from its own named stream of the block, so skipping a source never changes another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen import vocab
from datagen.calendar import Calendar, weekday_of
from datagen.catalog import Campaigns, Catalog
from datagen.personas import LAPSED, MAX_DEVICES, PERSONAS
from datagen.rng import categorical_of, segment_positions
from datagen.text import DAY

ATTRIBUTION_WINDOW = (15 * 60, 4 * DAY)  # an e-mail counts for an order placed this long after delivery
COMPLAINT_PROBABILITY = 0.0005


@dataclass
class Plan:
    """Everything shared by all blocks of a run."""

    seed: int
    as_of: int
    history_start: int
    future_end: int
    calendar: Calendar
    catalog: Catalog
    campaigns: Campaigns
    chunk_seconds: int
    n_periods: int

    def period_of(self, seconds: np.ndarray) -> np.ndarray:
        """Chunk index of a time: chunks are anchored at as_of, the last one ends at as_of."""
        back = np.floor_divide(self.as_of - 1 - np.asarray(seconds, dtype=np.int64), self.chunk_seconds)
        return np.clip(self.n_periods - 1 - back, 0, self.n_periods - 1).astype(np.int32)

    def period_start(self, period: np.ndarray) -> np.ndarray:
        return self.as_of - (self.n_periods - np.asarray(period, dtype=np.int64)) * self.chunk_seconds


def _profile_names(persona: np.ndarray) -> np.ndarray:
    return np.array([p.seasonality for p in PERSONAS])[persona]


def _seasonal_times(
    plan: Plan, rng: np.random.Generator, profile: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    u = rng.random(len(lo))
    times = np.empty(len(lo), dtype=np.int64)
    for name in np.unique(profile):
        rows = profile == name
        times[rows] = plan.calendar.sample(str(name), lo[rows], hi[rows], u[rows])
    return times


def _seasonal_years(plan: Plan, profile: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    years = np.empty(len(lo))
    for name in np.unique(profile):
        rows = profile == name
        years[rows] = plan.calendar.years(str(name), lo[rows], hi[rows])
    return years


def simulate_orders(plan: Plan, c: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """BG/NBD purchases from the start of the history (or signup) to as_of + 90 days, with lines.

    Sets c["death_at"] (-1 while alive through the future window). Orders before as_of are the
    landing orders (sorted by time); the rest are the hidden future.
    """
    n = len(c["persona"])
    persona = c["persona"]
    profile = _profile_names(persona)
    start = np.maximum(c["signup_at"], plan.history_start)
    lapsed = persona == LAPSED
    end = np.where(lapsed, c["forced_death_at"], plan.future_end)
    end = np.maximum(end, start)
    expected = c["purchase_rate"] * _seasonal_years(plan, profile, start, end)
    count = rng.poisson(expected)
    count = np.where(lapsed & (end > start + DAY), np.maximum(count, 1), count)
    owner = np.repeat(np.arange(n), count)
    at = _seasonal_times(plan, rng, profile[owner], start[owner], end[owner])
    welcome = np.flatnonzero(c["welcome_order"] & (c["signup_at"] >= plan.history_start))
    welcome_at = c["signup_at"][welcome] + rng.integers(60, 2 * DAY, size=len(welcome))
    owner = np.concatenate([owner, welcome])
    at = np.concatenate([at, welcome_at])
    order = np.lexsort((at, owner))
    owner, at = owner[order], at[order]

    # BG/NBD dropout: after each purchase the customer dies with probability `dropout`
    purchases_in_life = rng.geometric(np.clip(c["dropout"], 1e-6, 1.0))
    _, rank = segment_positions(np.bincount(owner, minlength=n))
    keep = lapsed[owner] | (rank < purchases_in_life[owner])
    dies_here = ~lapsed[owner] & (rank == purchases_in_life[owner] - 1)
    death_at = np.where(lapsed, c["forced_death_at"], -1).astype(np.int64)
    death_at[owner[dies_here]] = at[dies_here]
    c["death_at"] = death_at
    owner, at = owner[keep], at[keep]
    at = np.minimum(at, plan.future_end - 1)

    m = len(owner)
    shape = 2.5
    value_cents = rng.gamma(shape, c["mean_order_value"][owner] * 100 / shape)
    n_lines = 1 + rng.poisson(1.5, size=m)
    line_order, line_number = segment_positions(n_lines)
    weight = rng.exponential(size=len(line_order))
    weight_total = np.bincount(line_order, weights=weight, minlength=m)
    target = value_cents[line_order] * weight / weight_total[line_order]
    category = categorical_of(rng, c["category_affinity"], owner[line_order])
    catalog = plan.catalog
    product = catalog.near_price(rng, category, target)
    product = catalog.available(product, at[line_order])
    unit = catalog.price_cents[product]
    quantity = np.clip(np.floor(target / unit + 0.4), 1, 4).astype(np.int64)
    subtotal = np.bincount(line_order, weights=quantity * unit, minlength=m).astype(np.int64)
    uses_discount = rng.random(m) < c["discount_propensity"][owner]
    pct = rng.choice([10, 15, 20, 25, 30], size=m, p=[0.3, 0.25, 0.25, 0.1, 0.1])
    discount = np.where(uses_discount, np.round(subtotal * pct / 100), 0).astype(np.int64)
    shipping = np.where(subtotal - discount >= 7500, 0, rng.choice([499, 699], size=m)).astype(np.int64)
    total = subtotal - discount + shipping

    online = rng.random(m) < c["online_share"][owner]
    slot = (rng.random(m) * c["n_devices"][owner]).astype(np.int64)
    device = c["device_types"][owner, slot]
    app = online & (device == vocab.DEVICES.index("mobile")) & (rng.random(m) < 0.6)
    offline_channel = np.where(rng.random(m) < 0.7, 2, 3)
    channel = np.where(online, np.where(app, 1, 0), offline_channel).astype(np.int8)

    past = at < plan.as_of
    past_index = np.flatnonzero(past)
    # landing orders are numbered in time order within the block
    past_index = past_index[np.argsort(at[past_index], kind="stable")]
    past_line_mask = past[line_order]
    renumber = np.full(m, -1, dtype=np.int64)
    renumber[past_index] = np.arange(len(past_index))
    line_rows = np.flatnonzero(past_line_mask)
    line_rows = line_rows[np.lexsort((line_number[line_rows], renumber[line_order[line_rows]]))]
    future = ~past
    return {
        "owner": owner[past_index],
        "at": at[past_index],
        "subtotal": subtotal[past_index],
        "discount": discount[past_index],
        "shipping": shipping[past_index],
        "total": total[past_index],
        "channel": channel[past_index],
        "device_slot": slot[past_index],
        "n_lines": n_lines[past_index],
        "line_start": (np.cumsum(n_lines[past_index]) - n_lines[past_index]),
        "item_order": renumber[line_order[line_rows]],
        "item_line": line_number[line_rows] + 1,
        "item_product": product[line_rows],
        "item_quantity": quantity[line_rows],
        "item_unit": unit[line_rows],
        "future_owner": owner[future],
        "future_at": at[future],
        "future_total": total[future],
        "future_lines": n_lines[future],
    }


EMAIL_TYPES = ("sent", "delivered", "open", "click", "bounce", "unsubscribe", "complaint")
SENT, DELIVERED, OPEN, CLICK, BOUNCE, UNSUBSCRIBE, COMPLAINT = range(7)


def simulate_email(
    plan: Plan, c: dict[str, np.ndarray], orders: dict[str, np.ndarray], rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Campaign sends to opted-in contacts and their engagement, one campaign at a time.

    Unsubscribes, complaints and hard bounces stop later sends. A contact with an order in the
    few days after a delivery is more likely to open and click it (the order is then attributed
    to the campaign), so sent -> delivered -> open -> click -> order chains exist.
    """
    n = len(c["persona"])
    campaigns = plan.campaigns
    affinity = np.array([s[2] for s in vocab.CAMPAIGN_SEGMENTS])
    segment_share = np.array([s[1] for s in vocab.CAMPAIGN_SEGMENTS])
    order_keys = orders["owner"].astype(np.int64) * (1 << 34) + (
        orders["at"] - plan.history_start + (1 << 30)
    )
    key_order = np.argsort(order_keys, kind="stable")
    sorted_keys = order_keys[key_order]
    status = np.zeros(n, dtype=np.int8)
    attributed = np.full(len(orders["owner"]), -1, dtype=np.int64)
    death_at = c["death_at"]
    events: list[tuple[np.ndarray, ...]] = []

    for k in range(campaigns.size):
        send = int(campaigns.sent_at[k])
        eligible = c["email_opt_in"] & (c["opt_in_at"] <= send) & (status == 0)
        p = segment_share[campaigns.segment[k]] * affinity[campaigns.segment[k]][c["persona"]]
        recipients = np.flatnonzero(eligible & (rng.random(n) < p))
        m = len(recipients)
        if m == 0:
            continue
        sent_at = send + rng.integers(0, 1800, size=m)
        campaign = np.full(m, k, dtype=np.int64)
        events.append((recipients, campaign, np.full(m, SENT), sent_at))
        bounced = c["bad_address"][recipients]
        status[recipients[bounced]] = 2
        events.append(
            (
                recipients[bounced],
                campaign[bounced],
                np.full(bounced.sum(), BOUNCE),
                sent_at[bounced] + rng.integers(1, 60, size=bounced.sum()),
            )
        )
        who = recipients[~bounced]
        m = len(who)
        delivered_at = sent_at[~bounced] + rng.integers(1, 120, size=m)
        campaign = campaign[:m]
        events.append((who, campaign, np.full(m, DELIVERED), delivered_at))

        probe = who.astype(np.int64) * (1 << 34) + (
            delivered_at + ATTRIBUTION_WINDOW[0] - plan.history_start + (1 << 30)
        )
        position = np.minimum(np.searchsorted(sorted_keys, probe), len(sorted_keys) - 1)
        candidate = key_order[position] if len(sorted_keys) else np.zeros(m, dtype=np.int64)
        has_order = np.zeros(m, dtype=bool)
        if len(sorted_keys):
            has_order = (
                (orders["owner"][candidate] == who)
                & (orders["at"][candidate] <= delivered_at + ATTRIBUTION_WINDOW[1])
                & (orders["at"][candidate] >= delivered_at + ATTRIBUTION_WINDOW[0])
            )
        order_at = np.where(has_order, orders["at"][candidate] if len(sorted_keys) else 0, 0)

        alive = (death_at[who] < 0) | (delivered_at < death_at[who])
        p_open = c["email_open"][who] * np.where(alive, 1.0, 0.15)
        p_open = np.where(
            weekday_of(delivered_at) == c["preferred_weekday"][who], np.minimum(p_open * 1.25, 0.98), p_open
        )
        p_open = np.where(has_order, 1 - (1 - p_open) * 0.4, p_open)
        opened = rng.random(m) < p_open
        to_preferred = (c["preferred_hour"][who].astype(np.int64) * 3600 - delivered_at % DAY) % DAY
        delay = np.where(
            rng.random(m) < 0.35,
            rng.integers(60, 1800, size=m),
            np.maximum(to_preferred + rng.normal(0, 1800, size=m).astype(np.int64), 60),
        )
        opened_at = delivered_at + delay
        opened_at = np.where(has_order, np.minimum(opened_at, order_at - 300), opened_at)
        p_click = c["email_click"][who] * np.where(alive, 1.0, 0.3)
        p_click = np.where(has_order, 1 - (1 - p_click) * 0.3, p_click)
        clicked = opened & (rng.random(m) < p_click)
        clicked_at = opened_at + rng.integers(5, 180, size=m)
        events.append((who[opened], campaign[opened], np.full(opened.sum(), OPEN), opened_at[opened]))
        events.append((who[clicked], campaign[clicked], np.full(clicked.sum(), CLICK), clicked_at[clicked]))
        won = clicked & has_order
        attributed[candidate[won]] = k
        unsubscribed = opened & (rng.random(m) < c["unsubscribe"][who])
        status[who[unsubscribed]] = 1
        events.append(
            (
                who[unsubscribed],
                campaign[unsubscribed],
                np.full(unsubscribed.sum(), UNSUBSCRIBE),
                opened_at[unsubscribed] + rng.integers(20, 300, size=unsubscribed.sum()),
            )
        )
        complained = ~unsubscribed & (rng.random(m) < COMPLAINT_PROBABILITY)
        status[who[complained]] = 3
        events.append(
            (
                who[complained],
                campaign[complained],
                np.full(complained.sum(), COMPLAINT),
                delivered_at[complained] + rng.integers(600, 2 * DAY, size=complained.sum()),
            )
        )

    if events:
        contact, campaign, kind, at = (np.concatenate([e[i] for e in events]) for i in range(4))
    else:
        contact = campaign = kind = at = np.empty(0, dtype=np.int64)
    kept = at < plan.as_of
    # attributed orders stay attributed only when the click itself landed before as_of
    order = np.lexsort((kind[kept], contact[kept], at[kept]))
    return {
        "contact": contact[kept][order].astype(np.int64),
        "campaign": campaign[kept][order].astype(np.int64),
        "type": kind[kept][order].astype(np.int8),
        "at": at[kept][order].astype(np.int64),
        "attributed_campaign": attributed,
    }


WEB_TYPES = (
    "page_view",
    "product_view",
    "add_to_cart",
    "remove_from_cart",
    "begin_checkout",
    "purchase",
    "search",
    "login",
)
PAGE_VIEW, PRODUCT_VIEW, ADD_TO_CART, REMOVE_FROM_CART, BEGIN_CHECKOUT, PURCHASE, SEARCH, LOGIN = range(8)
UNKNOWN_WEB_TYPES = ("scroll", "video_start", "share", "wishlist_add", "PageView")
# page kinds (param column says which product / category / campaign / order / search term)
(
    PAGE_HOME,
    PAGE_CATEGORY,
    PAGE_PRODUCT,
    PAGE_SEARCH,
    PAGE_CART,
    PAGE_CHECKOUT,
    PAGE_CONFIRMATION,
    PAGE_LOGIN,
    PAGE_CAMPAIGN,
) = range(9)
SESSION_BROWSE, SESSION_PURCHASE, SESSION_EMAIL = range(3)
LOGIN_PROBABILITY = 0.3  # a browsing session where a not-yet-identified visitor logs in


def _expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Events of sessions given (sessions x segments) counts: session, segment and position of each event."""
    _n, k = counts.shape
    owner, position = segment_positions(counts.reshape(-1))
    return owner // k, owner % k, position


def simulate_web(
    plan: Plan,
    c: dict[str, np.ndarray],
    orders: dict[str, np.ndarray],
    email: dict[str, np.ndarray],
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Web sessions: browsing, e-mail click-throughs and the funnel of every online order.

    Each contact browses on 1-4 devices (anonymous ids). A device is anonymous until the session
    where the visitor logs in (at the latest the first purchase on it); from the login event on,
    every event of that anonymous id carries the contact id. Purchase sessions show product views,
    then add_to_cart of each bought product, then begin_checkout, then purchase at the order time.
    Sessions of contacts without tracking consent are returned with session_consent False.
    """
    n = len(c["persona"])
    catalog = plan.catalog
    affinity = c["category_affinity"]

    # purchase sessions: every web/app order
    online = np.flatnonzero(orders["channel"] <= 1)
    p_contact = orders["owner"][online]
    p_slot = orders["device_slot"][online]
    p_end = orders["at"][online]
    p_lines = orders["n_lines"][online]
    p_attributed = (
        orders["attributed_campaign"][online] if "attributed_campaign" in orders else np.full(len(online), -1)
    )

    # browsing sessions, thinned after death
    start = np.maximum(plan.history_start, c["signup_at"] - 30 * DAY)
    years = plan.calendar.years("regular", start, np.full(n, plan.as_of))
    count = rng.poisson(c["browse_rate"] * years)
    b_contact = np.repeat(np.arange(n), count)
    b_start = plan.calendar.sample(
        "regular", start[b_contact], np.full(len(b_contact), plan.as_of), rng.random(len(b_contact))
    )
    death = c["death_at"][b_contact]
    keep = (death < 0) | (b_start < death) | (rng.random(len(b_contact)) < 0.1)
    b_contact, b_start = b_contact[keep], b_start[keep]
    b_slot = (rng.random(len(b_contact)) * c["n_devices"][b_contact]).astype(np.int64)

    # e-mail click-throughs
    clicks = np.flatnonzero(email["type"] == CLICK) if len(email["type"]) else np.empty(0, dtype=np.int64)
    e_contact = email["contact"][clicks]
    e_start = email["at"][clicks] + rng.integers(2, 20, size=len(clicks))
    e_campaign = email["campaign"][clicks]
    e_slot = (rng.random(len(clicks)) * c["n_devices"][e_contact]).astype(np.int64)

    s_kind = np.concatenate(
        [
            np.full(len(online), SESSION_PURCHASE),
            np.full(len(b_contact), SESSION_BROWSE),
            np.full(len(clicks), SESSION_EMAIL),
        ]
    ).astype(np.int8)
    s_contact = np.concatenate([p_contact, b_contact, e_contact]).astype(np.int64)
    s_slot = np.concatenate([p_slot, b_slot, e_slot]).astype(np.int64)
    s_time = np.concatenate([p_end, b_start, e_start]).astype(np.int64)
    s_order = np.concatenate([online, np.full(len(b_contact) + len(clicks), -1)]).astype(np.int64)
    s_lines = np.concatenate([p_lines, np.zeros(len(b_contact) + len(clicks), dtype=np.int64)])
    s_campaign = np.concatenate([p_attributed, np.full(len(b_contact), -1), e_campaign]).astype(np.int64)
    m = len(s_kind)
    purchase = s_kind == SESSION_PURCHASE

    # login: the first candidate session of each device (purchases always are candidates)
    anon = s_contact * MAX_DEVICES + s_slot
    order = np.lexsort((s_time, anon))
    candidate = purchase | (rng.random(m) < LOGIN_PROBABILITY)
    sorted_anon = anon[order]
    group_start = np.flatnonzero(np.r_[True, sorted_anon[1:] != sorted_anon[:-1]])
    rank = np.arange(m) - np.repeat(group_start, np.diff(np.r_[group_start, m]))
    first_candidate = np.where(candidate[order], rank, np.iinfo(np.int64).max)
    first_in_group = np.minimum.reduceat(first_candidate, group_start) if m else first_candidate
    first_of_session = np.repeat(first_in_group, np.diff(np.r_[group_start, m]))
    login_state = np.empty(m, dtype=np.int8)  # 0 anonymous, 1 logs in here, 2 already identified
    login_state[order] = np.where(rank < first_of_session, 0, np.where(rank == first_of_session, 1, 2))

    # session content
    n_pv = np.where(
        purchase,
        s_lines + rng.poisson(0.3, size=m),
        np.where(
            s_kind == SESSION_EMAIL,
            rng.poisson(1.5, size=m),
            1 + rng.poisson(1.0 + 2.0 * c["cart_abandon"][s_contact]),
        ),
    )
    browse_cart = ~purchase & (n_pv > 0) & (rng.random(m) < c["cart_abandon"][s_contact] * 0.6)
    n_atc = np.where(
        purchase, s_lines, np.where(browse_cart, np.minimum(n_pv, 1 + rng.binomial(1, 0.3, size=m)), 0)
    )
    removes = browse_cart & (rng.random(m) < 0.25)
    checkout = purchase | (browse_cart & (rng.random(m) < 0.3))
    search = rng.random(m) < 0.25
    logs_in = login_state == 1

    # segment order differs: browsers log in first, buyers log in just before checking out
    browse_layout = (
        PAGE_VIEW,
        LOGIN,
        SEARCH,
        PRODUCT_VIEW,
        ADD_TO_CART,
        REMOVE_FROM_CART,
        BEGIN_CHECKOUT,
        PURCHASE,
    )
    purchase_layout = (
        PAGE_VIEW,
        SEARCH,
        PRODUCT_VIEW,
        ADD_TO_CART,
        LOGIN,
        REMOVE_FROM_CART,
        BEGIN_CHECKOUT,
        PURCHASE,
    )
    counts_by_type = {
        PAGE_VIEW: np.ones(m, dtype=np.int64),
        LOGIN: logs_in.astype(np.int64),
        SEARCH: search.astype(np.int64),
        PRODUCT_VIEW: n_pv,
        ADD_TO_CART: n_atc,
        REMOVE_FROM_CART: removes.astype(np.int64),
        BEGIN_CHECKOUT: checkout.astype(np.int64),
        PURCHASE: purchase.astype(np.int64),
    }
    counts = np.empty((m, 8), dtype=np.int64)
    segment_type = np.empty((m, 8), dtype=np.int8)
    for column, (b_type, p_type) in enumerate(zip(browse_layout, purchase_layout, strict=True)):
        counts[:, column] = np.where(purchase, counts_by_type[p_type], counts_by_type[b_type])
        segment_type[:, column] = np.where(purchase, p_type, b_type)
    session, segment, position = _expand(counts)
    event_type = segment_type[session, segment]
    total = len(session)
    session_events = counts.sum(axis=1)
    session_first = np.cumsum(session_events) - session_events
    segment_offset = np.cumsum(counts, axis=1) - counts

    # times: gaps of ~40 s; purchase sessions end exactly at the order time
    gap = np.where(
        np.arange(total) == session_first[session], 0, 1 + rng.exponential(40, size=total).astype(np.int64)
    )
    elapsed = np.cumsum(gap)
    elapsed = elapsed - elapsed[session_first[session]]
    duration = elapsed[session_first + session_events - 1]
    s_begin = np.where(purchase, s_time - duration, s_time)
    at = s_begin[session] + elapsed

    # products
    contact = s_contact[session]
    view_category = categorical_of(rng, affinity, contact)
    email_session = s_kind[session] == SESSION_EMAIL
    campaign_category = plan.campaigns.category[np.maximum(s_campaign[session], 0)]
    view_category = np.where(email_session & (rng.random(total) < 0.6), campaign_category, view_category)
    product = np.full(total, -1, dtype=np.int64)
    is_view = event_type == PRODUCT_VIEW
    product[is_view] = catalog.popular(rng, view_category[is_view])
    bought_line = purchase[session] & (
        (is_view & (position < s_lines[session])) | (event_type == ADD_TO_CART)
    )
    order_of_event = s_order[session[bought_line]]
    product[bought_line] = _line_products(orders, order_of_event, position[bought_line])
    browse_cart_event = ~purchase[session] & (event_type == ADD_TO_CART)
    view_column = np.where(purchase, 2, 3)  # PRODUCT_VIEW column in each layout
    view_index = session_first + segment_offset[np.arange(m), view_column]
    product[browse_cart_event] = product[view_index[session[browse_cart_event]] + position[browse_cart_event]]
    removal = event_type == REMOVE_FROM_CART
    cart_index = session_first + np.where(purchase, segment_offset[:, 3], segment_offset[:, 4])
    product[removal] = product[cart_index[session[removal]]]
    has_product = product >= 0
    product[has_product] = catalog.available(product[has_product], at[has_product])

    # pages
    page = np.full(total, PAGE_HOME, dtype=np.int8)
    param = np.full(total, -1, dtype=np.int64)
    landing = np.arange(total) == session_first[session]
    landing_category = landing & ~email_session & (rng.random(total) < 0.6)
    page[landing_category] = PAGE_CATEGORY
    param[landing_category] = view_category[landing_category]
    landing_email = landing & email_session
    page[landing_email] = PAGE_CAMPAIGN
    param[landing_email] = s_campaign[session[landing_email]]
    page[is_view] = PAGE_PRODUCT
    param[has_product] = product[has_product]
    cart = (event_type == ADD_TO_CART) | removal
    page[cart] = PAGE_CART
    searching = event_type == SEARCH
    page[searching] = PAGE_SEARCH
    param[searching] = rng.integers(0, len(vocab.SEARCH_TERMS), size=searching.sum())
    page[event_type == BEGIN_CHECKOUT] = PAGE_CHECKOUT
    page[event_type == LOGIN] = PAGE_LOGIN
    confirmation = event_type == PURCHASE
    page[confirmation] = PAGE_CONFIRMATION
    param[confirmation] = s_order[session[confirmation]]
    category = np.where(has_product, catalog.category[np.maximum(product, 0)], -1)
    category = np.where(page == PAGE_CATEGORY, param, category)
    category = np.where(page == PAGE_CAMPAIGN, campaign_category, category).astype(np.int8)

    # identification: after the login event of the login session, and in every later session
    login_position = session_first + segment_offset[np.arange(m), np.where(purchase, 4, 1)]
    identified = (login_state[session] == 2) | (
        (login_state[session] == 1) & (np.arange(total) >= login_position[session])
    )

    # traffic source on the landing event: e-mail campaign, ad, or none
    ad = rng.integers(0, len(vocab.AD_TRAFFIC), size=m)
    session_utm = np.where(s_campaign >= 0, s_campaign, np.where(rng.random(m) < 0.25, -2 - ad, -1))
    utm = np.where(landing, session_utm[session], -1)

    device = c["device_types"][contact, s_slot[session]]
    kept = at < plan.as_of
    return {
        "contact": contact[kept],
        "anon": anon[session[kept]],
        "identified": identified[kept],
        "type": event_type[kept].astype(np.int8),
        "at": at[kept],
        "page": page[kept],
        "param": param[kept],
        "product": product[kept],
        "category": category[kept],
        "device": device[kept].astype(np.int8),
        "utm": utm[kept].astype(np.int64),
        "consent": c["tracking_consent"][contact[kept]],
    }


def _line_products(orders: dict[str, np.ndarray], order: np.ndarray, line: np.ndarray) -> np.ndarray:
    return orders["item_product"][orders["line_start"][order] + line]
