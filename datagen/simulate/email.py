"""E-mail: campaign sends to opted-in contacts and their engagement, with orders attributed."""

from __future__ import annotations

import numpy as np

from datagen import vocab
from datagen.calendar import weekday_of
from datagen.simulate.plan import Plan
from datagen.text import DAY

ATTRIBUTION_WINDOW = (15 * 60, 4 * DAY)  # an e-mail counts for an order placed this long after delivery
COMPLAINT_PROBABILITY = 0.0005

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
        bounced_at = sent_at[bounced] + rng.integers(1, 60, size=bounced.sum())
        events.append(_events(BOUNCE, recipients, campaign, bounced, bounced_at))
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
        events.append(_events(OPEN, who, campaign, opened, opened_at[opened]))
        events.append(_events(CLICK, who, campaign, clicked, clicked_at[clicked]))
        won = clicked & has_order
        attributed[candidate[won]] = k
        unsubscribed = opened & (rng.random(m) < c["unsubscribe"][who])
        status[who[unsubscribed]] = 1
        unsubscribed_at = opened_at[unsubscribed] + rng.integers(20, 300, size=unsubscribed.sum())
        events.append(_events(UNSUBSCRIBE, who, campaign, unsubscribed, unsubscribed_at))
        complained = ~unsubscribed & (rng.random(m) < COMPLAINT_PROBABILITY)
        status[who[complained]] = 3
        complained_at = delivered_at[complained] + rng.integers(600, 2 * DAY, size=complained.sum())
        events.append(_events(COMPLAINT, who, campaign, complained, complained_at))

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


def _events(
    kind: int, who: np.ndarray, campaign: np.ndarray, picked: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Events of one kind for the recipients `picked` selects; `at` holds their times only."""
    return who[picked], campaign[picked], np.full(picked.sum(), kind), at
