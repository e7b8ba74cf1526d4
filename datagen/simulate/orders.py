"""Orders: BG/NBD purchases with seasonality, lines, discounts, channels; past and hidden future."""

from __future__ import annotations

import numpy as np

from datagen import vocab
from datagen.personas import LAPSED, PERSONAS
from datagen.rng import categorical_of, segment_positions
from datagen.simulate.plan import Plan
from datagen.text import DAY


def profile_names(persona: np.ndarray) -> np.ndarray:
    """The calendar profile (seasonality) of each contact's persona."""
    return np.array([p.seasonality for p in PERSONAS])[persona]


def simulate_orders(plan: Plan, c: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """BG/NBD purchases from the start of the history (or signup) to as_of + 90 days, with lines.

    Sets c["death_at"] (-1 while alive through the future window). Orders before as_of are the
    landing orders (sorted by time); the rest are the hidden future.
    """
    n = len(c["persona"])
    persona = c["persona"]
    profile = profile_names(persona)
    start = np.maximum(c["signup_at"], plan.history_start)
    lapsed = persona == LAPSED
    end = np.where(lapsed, c["forced_death_at"], plan.future_end)
    end = np.maximum(end, start)
    expected = c["purchase_rate"] * plan.calendar.years_per_row(profile, start, end)
    count = rng.poisson(expected)
    count = np.where(lapsed & (end > start + DAY), np.maximum(count, 1), count)
    owner = np.repeat(np.arange(n), count)
    at = plan.calendar.sample_per_row(profile[owner], start[owner], end[owner], rng.random(len(owner)))
    welcome = np.flatnonzero(c["welcome_order"] & (c["signup_at"] >= plan.history_start))
    welcome_at = c["signup_at"][welcome] + rng.integers(60, 2 * DAY, size=len(welcome))
    owner = np.concatenate([owner, welcome])
    at = np.concatenate([at, welcome_at])
    is_welcome = np.r_[np.zeros(len(at) - len(welcome), dtype=bool), np.ones(len(welcome), dtype=bool)]
    order = np.lexsort((at, owner))
    owner, at, is_welcome = owner[order], at[order], is_welcome[order]

    # BG/NBD dropout: after each purchase the customer dies with probability `dropout`
    purchases_in_life = rng.geometric(np.clip(c["dropout"], 1e-6, 1.0))
    _, rank = segment_positions(np.bincount(owner, minlength=n))
    keep = lapsed[owner] | (rank < purchases_in_life[owner])
    dies_here = ~lapsed[owner] & (rank == purchases_in_life[owner] - 1)
    death_at = np.where(lapsed, c["forced_death_at"], -1).astype(np.int64)
    death_at[owner[dies_here]] = at[dies_here]
    c["death_at"] = death_at
    owner, at, is_welcome = owner[keep], at[keep], is_welcome[keep]
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
    # the welcome order uses the welcome code
    uses_discount = (rng.random(m) < c["discount_propensity"][owner]) | is_welcome
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
