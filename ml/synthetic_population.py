"""The hidden customers behind ml.synthetic: personas, traits and every purchase they will make.

Each customer gets a persona and a buy-till-you-die purchase process (exponential gaps, dropout
after each repeat purchase), drawn once over the history and the year after it; ml.synthetic then
reads features, labels and the hidden truth from this one population. The draws come first in the
module's random stream and in a fixed order: reordering them changes every test's data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PERSONAS = {
    # name: share, mean days between purchases, dropout Beta(a, b), mean spend, discount share,
    #       web sessions per 30 days, email open rate, share that never buys
    "loyal_high_spender": (0.12, 18.0, (1.0, 40.0), 140.0, 0.10, 9.0, 0.50, 0.00),
    "bargain_hunter": (0.20, 40.0, (1.0, 12.0), 30.0, 0.75, 5.0, 0.35, 0.02),
    "window_shopper": (0.18, 160.0, (1.0, 4.0), 45.0, 0.20, 14.0, 0.25, 0.45),
    "lapsed_buyer": (0.20, 50.0, (4.0, 3.0), 60.0, 0.25, 0.4, 0.06, 0.00),
    "new_customer": (0.12, 35.0, (1.0, 10.0), 60.0, 0.20, 4.0, 0.45, 0.10),
    "regular": (0.18, 75.0, (1.0, 15.0), 55.0, 0.25, 2.0, 0.30, 0.02),
}
PERSONA_NAMES = list(PERSONAS)
COUNTRIES = ["US", "GB", "DE", "FR", "NL", "ES", "IT", "SE"]
CATEGORIES = [f"cat_{i:02d}" for i in range(20)]


@dataclass
class Population:
    """Each customer's hidden traits and transactions (tc: customer, tt: day), drawn once and read
    at every cutoff."""

    keys: np.ndarray
    persona: np.ndarray
    signup: np.ndarray
    first_purchase: np.ndarray
    buys: np.ndarray
    dropout_at: np.ndarray
    tc: np.ndarray
    tt: np.ndarray
    rev: np.ndarray
    discounted: np.ndarray
    refund_share: np.ndarray
    browse_i: np.ndarray
    open_i: np.ndarray
    age: np.ndarray
    country: np.ndarray
    device: np.ndarray
    income: np.ndarray
    fav_cat: np.ndarray

    def alive_at(self, day: float) -> np.ndarray:
        """Customers who have bought by `day` and not dropped out yet: the BG/NBD notion of alive."""
        return (self.dropout_at > day) & (self.first_purchase <= day) & self.buys


def numbered_keys(n: int, prefix: str, width: int) -> np.ndarray:
    """prefix + zero-padded 0..n-1, as object strings (customer and product keys)."""
    return np.char.add(prefix, np.char.zfill(np.arange(n).astype(str), width)).astype(object)


def _persona_column(persona: np.ndarray, position: int) -> np.ndarray:
    """One PERSONAS parameter for each customer."""
    return np.array([PERSONAS[name][position] for name in PERSONA_NAMES])[persona]


def draw_population(rng: np.random.Generator, n: int, history_days: float) -> Population:
    """n customers over `history_days` of history and a year after it (the future the labels and
    truth look at); days count from the start of the history."""
    H = float(history_days)
    shares = np.array([PERSONAS[p][0] for p in PERSONA_NAMES])
    persona = rng.choice(len(PERSONA_NAMES), size=n, p=shares / shares.sum())

    gap = _persona_column(persona, 1)
    drop_a = np.array([PERSONAS[p][2][0] for p in PERSONA_NAMES])[persona]
    drop_b = np.array([PERSONAS[p][2][1] for p in PERSONA_NAMES])[persona]
    spend = _persona_column(persona, 3)
    disc = _persona_column(persona, 4)
    browse = _persona_column(persona, 5)
    open_rate = _persona_column(persona, 6)
    never = _persona_column(persona, 7)

    is_new = persona == PERSONA_NAMES.index("new_customer")
    is_lapsed = persona == PERSONA_NAMES.index("lapsed_buyer")
    signup = np.where(
        is_new,
        rng.uniform(H - 100, H, n),
        np.where(is_lapsed, rng.uniform(0, H * 0.6, n), rng.uniform(0, H - 60, n)),
    )
    lam = rng.gamma(3.0, 1.0 / 3.0, n) / gap
    p_drop = rng.beta(drop_a, drop_b)
    cust_spend = spend * rng.lognormal(0.0, 0.35, n)
    cust_disc = np.clip(rng.beta(2 + 8 * disc, 2 + 8 * (1 - disc)), 0, 1)
    buys = rng.random(n) >= never
    end = H + 365.0

    # Purchase process: first purchase shortly after signup, then exponential gaps, dropping
    # out with probability p after each repeat purchase (the BG/NBD story).
    first = signup + rng.exponential(7.0, n)
    t_cur = first.copy()
    dropout_at = np.full(n, np.inf)
    active = buys & (first <= end)
    tx_c = [np.flatnonzero(active)]
    tx_t = [first[active]]
    while active.any():
        idx = np.flatnonzero(active)
        t_next = t_cur[idx] + rng.exponential(1.0 / lam[idx])
        ok = t_next <= end
        idx, t_next = idx[ok], t_next[ok]
        active[:] = False
        t_cur[idx] = t_next
        tx_c.append(idx)
        tx_t.append(t_next)
        dies = rng.random(idx.size) < p_drop[idx]
        dropout_at[idx[dies]] = t_next[dies]
        active[idx[~dies]] = True
    tc = np.concatenate(tx_c)
    tt = np.concatenate(tx_t)
    order = np.lexsort((tt, tc))
    tc, tt = tc[order], tt[order]
    discounted = rng.random(tc.size) < cust_disc[tc]
    rev = rng.gamma(4.0, cust_spend[tc] / 4.0) * np.where(discounted, 0.8, 1.0)
    rev = np.round(rev, 2)

    refund_share = rng.beta(1, 25, n)
    age = np.clip(rng.normal(42, 13, n), 18, 90).round()
    country = np.array(COUNTRIES, dtype=object)[
        rng.choice(8, n, p=[0.3, 0.15, 0.15, 0.1, 0.08, 0.08, 0.08, 0.06])
    ]
    device = np.array(["mobile", "desktop", "tablet"], dtype=object)[rng.choice(3, n, p=[0.55, 0.35, 0.1])]
    income = np.where(
        persona == PERSONA_NAMES.index("loyal_high_spender"),
        rng.choice(["high", "mid", "low"], n, p=[0.6, 0.3, 0.1]),
        rng.choice(["high", "mid", "low"], n, p=[0.2, 0.5, 0.3]),
    ).astype(object)
    fav_cat = rng.integers(0, len(CATEGORIES), n)
    browse_i = browse * rng.gamma(2.0, 0.5, n)
    open_i = np.clip(open_rate * rng.lognormal(0, 0.3, n), 0, 0.95)
    return Population(
        keys=numbered_keys(n, "C", 7),
        persona=persona,
        signup=signup,
        first_purchase=first,
        buys=buys,
        dropout_at=dropout_at,
        tc=tc,
        tt=tt,
        rev=rev,
        discounted=discounted,
        refund_share=refund_share,
        browse_i=browse_i,
        open_i=open_i,
        age=age,
        country=country,
        device=device,
        income=income,
        fav_cat=fav_cat,
    )
