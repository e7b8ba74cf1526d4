"""Product catalogue and e-mail campaign calendar, shared by every block of contacts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from datagen import text, vocab
from datagen.rng import choose, stream
from datagen.text import DAY, ymd


@dataclass
class Catalog:
    """Products, with lookup structures to pick a product of a category near a price or by popularity."""

    category: np.ndarray
    subcategory: np.ndarray  # index into subcategory_names
    subcategory_names: list[str]
    price_cents: np.ndarray
    names: pa.Array
    discontinued_at: np.ndarray  # seconds, -1 when still sold
    successor: np.ndarray  # product bought instead once discontinued
    _price_order: np.ndarray
    _price_keys: np.ndarray
    _category_bounds: np.ndarray
    _popular_order: np.ndarray
    _popular_keys: np.ndarray
    _log_range: np.ndarray

    @property
    def size(self) -> int:
        return len(self.category)

    def near_price(
        self, rng: np.random.Generator, category: np.ndarray, target_cents: np.ndarray
    ) -> np.ndarray:
        """A product of each category priced close to the target (a few ranks of noise)."""
        low, high = self._log_range[category, 0], self._log_range[category, 1]
        position = np.clip((np.log(np.maximum(target_cents, 1)) - low) / (high - low), 0.0, 0.999999)
        slot = np.searchsorted(self._price_keys, category + position)
        slot = slot + rng.integers(-2, 3, size=len(slot))
        slot = np.clip(slot, self._category_bounds[category], self._category_bounds[category + 1] - 1)
        return self._price_order[slot]

    def popular(self, rng: np.random.Generator, category: np.ndarray) -> np.ndarray:
        """A product of each category drawn by (Zipf-like) popularity."""
        slot = np.searchsorted(self._popular_keys, category + rng.random(len(category)), side="right")
        slot = np.clip(slot, self._category_bounds[category], self._category_bounds[category + 1] - 1)
        return self._popular_order[slot]

    def available(self, product: np.ndarray, at: np.ndarray) -> np.ndarray:
        """The product itself, or its successor once it is discontinued."""
        gone = (self.discontinued_at[product] >= 0) & (at >= self.discontinued_at[product])
        return np.where(gone, self.successor[product], product)


def build_catalog(
    seed: int, n_products: int, history_start: int, as_of: int, inactive_rate: float
) -> Catalog:
    rng = stream(seed, "catalog")
    shares = np.array([c[1] for c in vocab.CATEGORIES])
    category = np.sort(rng.choice(len(shares), size=n_products, p=shares)).astype(np.int64)
    # make sure every category has at least two products
    category[: 2 * len(shares)] = np.repeat(np.arange(len(shares)), 2)
    category = np.sort(category)
    subcategory_names = [s for c in vocab.CATEGORIES for s in c[4]]
    first_sub = np.cumsum([0] + [len(c[4]) for c in vocab.CATEGORIES])
    n_sub = np.diff(first_sub)
    subcategory = first_sub[category] + (rng.random(n_products) * n_sub[category]).astype(np.int64)
    median = np.array([c[2] for c in vocab.CATEGORIES])[category]
    sigma = np.array([c[3] for c in vocab.CATEGORIES])[category]
    price = median * np.exp(sigma * rng.standard_normal(n_products))
    price_cents = np.maximum(np.floor(price), 2) * 100 + 99
    price_cents = price_cents.astype(np.int64)

    adjective = rng.integers(0, len(vocab.ADJECTIVES), size=n_products)
    noun_pick = rng.random(n_products)
    nouns = [noun for name in subcategory_names for noun in vocab.NOUNS[name]]
    noun_count = np.array([len(vocab.NOUNS[name]) for name in subcategory_names])
    first_noun = np.cumsum(noun_count) - noun_count
    noun = first_noun[subcategory] + (noun_pick * noun_count[subcategory]).astype(np.int64)
    names = text.concat(text.take(list(vocab.ADJECTIVES), adjective), " ", text.take(nouns, noun))

    # discontinuation is drawn from its own stream so the rest of the catalogue never depends on it
    discontinued = choose(
        stream(seed, "dirt", "inactive_product", "catalog"), np.ones(n_products, bool), inactive_rate
    )
    discontinued_at = np.full(n_products, -1, dtype=np.int64)
    dirt_rng = stream(seed, "dirt", "inactive_product", "catalog", "when")
    discontinued_at[discontinued] = dirt_rng.integers(
        history_start + 60 * DAY, as_of - 14 * DAY, size=len(discontinued)
    )

    log_price = np.log(price_cents)
    log_range = np.zeros((len(shares), 2))
    bounds = np.searchsorted(category, np.arange(len(shares) + 1))
    price_order = np.lexsort((price_cents, category))
    for c in range(len(shares)):
        members = log_price[category == c]
        log_range[c] = members.min(), members.max() + 1e-9
    price_keys = category[price_order] + (log_price[price_order] - log_range[category[price_order], 0]) / (
        log_range[category[price_order], 1] - log_range[category[price_order], 0]
    )
    price_keys = np.minimum(price_keys, category[price_order] + 0.999999)

    popularity_rank = rng.random(n_products)
    popular_order = np.lexsort((popularity_rank, category))
    rank_in_category = np.arange(n_products) - bounds[category[popular_order]]
    weight = 1.0 / (rank_in_category + 1.0) ** 0.9
    cumulative = np.cumsum(weight)
    category_start = np.concatenate([[0.0], cumulative])[bounds[:-1]]
    category_total = cumulative[bounds[1:] - 1] - category_start
    sorted_category = category[popular_order]
    popular_keys = (
        sorted_category + (cumulative - category_start[sorted_category]) / category_total[sorted_category]
    )

    successor = np.arange(n_products)
    active = discontinued_at < 0
    for c in range(len(shares)):
        in_category = price_order[bounds[c] : bounds[c + 1]]
        active_in_category = in_category[active[in_category]]
        if len(active_in_category) == 0:
            continue
        rank = np.minimum(np.arange(len(in_category)), len(in_category) - 1)
        nearest = np.searchsorted(np.flatnonzero(active[in_category]), rank)
        successor[in_category] = active_in_category[np.minimum(nearest, len(active_in_category) - 1)]
    return Catalog(
        category=category,
        subcategory=subcategory,
        subcategory_names=subcategory_names,
        price_cents=price_cents,
        names=names,
        discontinued_at=discontinued_at,
        successor=successor,
        _price_order=price_order,
        _price_keys=price_keys,
        _category_bounds=bounds,
        _popular_order=popular_order,
        _popular_keys=popular_keys,
        _log_range=log_range,
    )


@dataclass
class Campaigns:
    """Weekly-ish campaigns over the history plus seasonal ones, sorted by send time."""

    sent_at: np.ndarray
    names: list[str]
    subjects: list[str]
    segment: np.ndarray  # index into vocab.CAMPAIGN_SEGMENTS
    segment_known: np.ndarray  # False when the export leaves segment_name blank
    category: np.ndarray
    urls: pa.Array

    @property
    def size(self) -> int:
        return len(self.sent_at)

    @property
    def ids(self) -> list[str]:
        return [f"CMP-{k + 1:05d}" for k in range(self.size)]


def build_campaigns(seed: int, history_start: int, as_of: int) -> Campaigns:
    rng = stream(seed, "campaigns")
    drafts: list[tuple[int, str, str, int, int]] = []  # sent_at, theme, subject, segment, category
    week = 7 * DAY
    first_monday = history_start - (history_start // DAY + 3) % 7 * DAY + week
    segment_probability = np.array([0.35, 0.15, 0.2, 0.1, 0.1, 0.1])
    for monday in range(first_monday, as_of - DAY, week):
        for extra in range(1 + (rng.random() < 0.2)):
            day = monday + int(rng.integers(1, 4)) * DAY + extra * 2 * DAY
            sent = day + int(rng.integers(9 * 4, 17 * 4)) * 900
            theme, subject = vocab.CAMPAIGN_THEMES[int(rng.integers(len(vocab.CAMPAIGN_THEMES)))]
            segment = int(rng.choice(len(segment_probability), p=segment_probability))
            drafts.append((sent, theme, subject, segment, int(rng.integers(len(vocab.CATEGORIES)))))
    first_year, _, _ = ymd(np.array([history_start // DAY]))
    last_year, _, _ = ymd(np.array([as_of // DAY]))
    for year in range(int(first_year[0]), int(last_year[0]) + 1):
        for month, day, theme, subject in vocab.SEASONAL_CAMPAIGNS:
            moment = dt.datetime(year, month, day, 8, tzinfo=dt.UTC).timestamp()
            sent = int(moment) + int(rng.integers(0, 16)) * 900
            if history_start <= sent < as_of - DAY:
                drafts.append((sent, theme, subject, 0, int(rng.integers(len(vocab.CATEGORIES)))))
    drafts.sort()
    sent_at = np.array([d[0] for d in drafts], dtype=np.int64)
    names, subjects = [], []
    for sent, theme, subject, _, category in drafts:
        date = dt.datetime.fromtimestamp(sent, dt.UTC).date().isoformat()
        names.append(f"{date} {theme}")
        pct = int(rng.choice([10, 15, 20, 25, 30]))
        subjects.append(subject.format(cat=vocab.CATEGORY_NAMES[category], pct=pct))
    category = np.array([d[4] for d in drafts], dtype=np.int64)
    ids = [f"CMP-{k + 1:05d}" for k in range(len(drafts))]
    urls = pa.array(
        [
            f"{vocab.SHOP_URL}/c/{vocab.CATEGORY_NAMES[c]}?utm_source={vocab.EMAIL_UTM_SOURCE}"
            f"&utm_medium={vocab.EMAIL_UTM_MEDIUM}&utm_campaign={cid}"
            for c, cid in zip(category, ids, strict=True)
        ],
        type=pa.string(),
    )
    return Campaigns(
        sent_at=sent_at,
        names=names,
        subjects=subjects,
        segment=np.array([d[3] for d in drafts], dtype=np.int64),
        segment_known=rng.random(len(drafts)) > 0.1,
        category=category,
        urls=urls,
    )
