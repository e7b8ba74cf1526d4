"""Web: browsing sessions, e-mail click-throughs and the funnel of every online order."""

from __future__ import annotations

import numpy as np

from datagen import vocab
from datagen.personas import MAX_DEVICES
from datagen.rng import categorical_of, segment_positions
from datagen.simulate.email import CLICK
from datagen.simulate.orders import profile_names
from datagen.simulate.plan import Plan
from datagen.text import DAY

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
    # browsing follows the persona's season: holiday shoppers browse when they buy
    profile = profile_names(c["persona"])
    years = plan.calendar.years_per_row(profile, start, np.full(n, plan.as_of))
    count = rng.poisson(c["browse_rate"] * years)
    b_contact = np.repeat(np.arange(n), count)
    b_start = plan.calendar.sample_per_row(
        profile[b_contact], start[b_contact], np.full(len(b_contact), plan.as_of), rng.random(len(b_contact))
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

    # identification: every event of the device from its login event on (by time, since sessions of
    # one device may overlap: a purchase session's funnel can start before a browsing session ends)
    first_login_at = np.full(n * MAX_DEVICES, np.iinfo(np.int64).max)
    is_login = event_type == LOGIN
    np.minimum.at(first_login_at, anon[session[is_login]], at[is_login])
    identified = at >= first_login_at[anon[session]]

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
