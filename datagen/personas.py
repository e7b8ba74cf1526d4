"""Hidden personas and the latent parameters drawn for each customer.

Each persona is a set of population distributions; every customer draws individual parameters
from them (Gamma purchase rate, Beta dropout, lognormal mean order value, Beta propensities,
Dirichlet category and device preferences), so personas overlap as real customers do. Each persona
differs from the others in behaviour the customer features can see, as its name says: basket size
and discount share, season (holiday shoppers buy and browse in November and December), purchase
frequency, recency (lapsed buyers stopped 9-20 months ago) and tenure, web browsing and e-mail
engagement; so clustering can be judged against them (ml.evaluation.persona_recovery).
Purchases follow BG/NBD: a Poisson process with the customer's rate until an unobserved death
after each purchase with the customer's dropout probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.rng import apportion, categorical
from datagen.text import DAY
from datagen.vocab import CATEGORIES, COUNTRIES, DEVICES, GENDER_SHARES


@dataclass(frozen=True)
class Persona:
    """Population distributions of one persona (rates per year, money in USD)."""

    name: str
    share: float
    purchase_rate: tuple[float, float]  # Gamma (shape, mean) of purchases per year
    dropout: tuple[float, float]  # Beta (a, b) of the probability to die after a purchase
    order_value: tuple[float, float]  # lognormal (median, sigma) of the customer's mean order value
    discount: tuple[float, float]  # Beta (a, b) of the share of orders using a discount
    browse_rate: tuple[float, float]  # Gamma (shape, mean) of browsing sessions per year
    cart_abandon: tuple[float, float]  # Beta (a, b) of adding to cart in a browsing session
    email_open: tuple[float, float]  # Beta (a, b) of opening a delivered e-mail
    email_click: tuple[float, float]  # Beta (a, b) of clicking an opened e-mail
    send_hour: tuple[float, float]  # normal (mean, sd) of the preferred reading hour (UTC)
    signup_days_ago: tuple[int, int]  # signup window, days before as_of
    seasonality: str  # calendar profile
    category_focus: float  # Dirichlet concentration: low = one favourite category
    email_opt_in: float
    tracking_consent: float
    income: tuple[float, float, float]  # low, middle, high
    online_share: float  # orders on web/app rather than store/marketplace
    devices: tuple[float, float, float]  # desktop, mobile, tablet
    unsubscribe: float  # probability to unsubscribe when opening


PERSONAS: tuple[Persona, ...] = (
    Persona("loyal_high_spender", 0.12, (20.0, 8.0), (1.0, 150.0), (160.0, 0.15), (1.0, 30.0), (3.0, 4.0),
            (2.0, 8.0), (16.0, 4.0), (6.0, 6.0), (20.0, 2.0), (700, 1800), "regular", 3.0, 0.95, 0.85,
            (0.10, 0.40, 0.50), 0.80, (0.50, 0.42, 0.08), 0.001),
    Persona("bargain_hunter", 0.22, (15.0, 5.0), (1.0, 60.0), (28.0, 0.15), (30.0, 2.0), (3.0, 5.0),
            (5.0, 4.0), (16.0, 4.0), (6.0, 4.0), (12.0, 3.0), (365, 1800), "regular", 6.0, 0.95, 0.80,
            (0.45, 0.45, 0.10), 0.85, (0.35, 0.55, 0.10), 0.003),
    Persona("window_shopper", 0.25, (1.0, 0.12), (2.0, 6.0), (45.0, 0.35), (3.0, 4.0), (3.0, 6.0),
            (8.0, 2.0), (1.0, 12.0), (1.0, 9.0), (21.0, 3.0), (7, 900), "regular", 2.0, 0.30, 0.75,
            (0.35, 0.45, 0.20), 0.95, (0.30, 0.60, 0.10), 0.006),
    Persona("lapsed_buyer", 0.18, (10.0, 4.0), (1.0, 20.0), (70.0, 0.15), (4.0, 16.0), (2.0, 2.0),
            (3.0, 5.0), (3.0, 6.0), (2.0, 6.0), (19.0, 3.0), (450, 1800), "regular", 3.0, 0.85, 0.80,
            (0.30, 0.50, 0.20), 0.75, (0.45, 0.45, 0.10), 0.006),
    Persona("new_customer", 0.10, (6.0, 3.0), (1.0, 10.0), (55.0, 0.15), (10.0, 10.0), (3.0, 6.0),
            (3.0, 4.0), (12.0, 6.0), (3.0, 6.0), (13.0, 4.0), (1, 120), "regular", 3.0, 0.95, 0.80,
            (0.30, 0.50, 0.20), 0.85, (0.35, 0.55, 0.10), 0.004),
    Persona("holiday_shopper", 0.13, (10.0, 3.0), (1.0, 60.0), (130.0, 0.15), (7.0, 13.0), (2.0, 2.0),
            (3.0, 5.0), (2.0, 12.0), (2.0, 6.0), (18.0, 3.0), (400, 1800), "holiday", 2.0, 0.85, 0.80,
            (0.20, 0.50, 0.30), 0.80, (0.50, 0.40, 0.10), 0.003),
)  # fmt: skip
PERSONA_NAMES = tuple(p.name for p in PERSONAS)
LAPSED = PERSONA_NAMES.index("lapsed_buyer")
NEW = PERSONA_NAMES.index("new_customer")
# Lapsed buyers died this many days before as_of: after the last holiday season, so a lapsed buyer
# is not mistaken for a holiday shopper out of season.
LAPSED_DEATH_DAYS_AGO = (270, 600)
# New customers mostly buy right at signup, with the welcome code (a discount).
WELCOME_ORDER_PROBABILITY = 0.9
# Share of contacts whose address hard-bounces on the first send.
BAD_ADDRESS_SHARE = 0.015
MAX_DEVICES = 4


def _per_persona(persona: np.ndarray, attribute: str) -> np.ndarray:
    return np.array([getattr(PERSONAS[p], attribute) for p in range(len(PERSONAS))])[persona]


def _gamma(rng: np.random.Generator, persona: np.ndarray, attribute: str) -> np.ndarray:
    params = _per_persona(persona, attribute)
    return rng.gamma(params[:, 0], params[:, 1] / params[:, 0])


def _beta(rng: np.random.Generator, persona: np.ndarray, attribute: str) -> np.ndarray:
    params = _per_persona(persona, attribute)
    return rng.beta(params[:, 0], params[:, 1])


def draw_contacts(rng: np.random.Generator, n: int, as_of: int) -> dict[str, np.ndarray]:
    """Persona and latent parameters of n contacts (exact persona shares, shuffled)."""
    shares = np.array([p.share for p in PERSONAS])
    persona = rng.permutation(np.repeat(np.arange(len(PERSONAS)), apportion(n, shares))).astype(np.int8)
    c: dict[str, np.ndarray] = {"persona": persona}
    c["purchase_rate"] = _gamma(rng, persona, "purchase_rate")
    c["dropout"] = _beta(rng, persona, "dropout")
    order_value = _per_persona(persona, "order_value")
    c["mean_order_value"] = order_value[:, 0] * np.exp(order_value[:, 1] * rng.standard_normal(n))
    c["discount_propensity"] = _beta(rng, persona, "discount")
    c["browse_rate"] = _gamma(rng, persona, "browse_rate")
    c["cart_abandon"] = _beta(rng, persona, "cart_abandon")
    c["email_open"] = _beta(rng, persona, "email_open")
    c["email_click"] = _beta(rng, persona, "email_click")
    hour = _per_persona(persona, "send_hour")
    c["preferred_hour"] = (np.round(hour[:, 0] + hour[:, 1] * rng.standard_normal(n)) % 24).astype(np.int8)
    c["preferred_weekday"] = rng.choice(7, size=n, p=[0.17, 0.16, 0.15, 0.15, 0.12, 0.1, 0.15]).astype(
        np.int8
    )
    c["unsubscribe"] = _per_persona(persona, "unsubscribe")

    window = _per_persona(persona, "signup_days_ago")
    span = (window[:, 1] - window[:, 0]).astype(float)
    # recent signups are more common (a growing list): truncated exponential within the window
    scale = np.where(persona == NEW, 1e9, 420.0)
    u = rng.random(n)
    days_ago = window[:, 0] + (-scale * np.log1p(-u * (1 - np.exp(-span / scale))))
    # CRM timestamps are kept to the minute
    c["signup_at"] = (as_of - np.round(days_ago * DAY / 60).astype(np.int64) * 60).astype(np.int64)
    death_days = rng.uniform(*LAPSED_DEATH_DAYS_AGO, size=n)
    death_days = np.minimum(death_days, np.maximum(days_ago - 60, LAPSED_DEATH_DAYS_AGO[0]))
    c["forced_death_at"] = np.where(persona == LAPSED, as_of - (death_days * DAY).astype(np.int64), -1)

    focus = _per_persona(persona, "category_focus")
    category_shares = np.array([cat[1] for cat in CATEGORIES])
    c["category_affinity"] = _dirichlet_rows(rng, focus[:, None] * category_shares[None, :] * len(CATEGORIES))
    device_base = _per_persona(persona, "devices")
    c["device_preference"] = _dirichlet_rows(rng, device_base * 8.0)
    c["n_devices"] = (1 + rng.binomial(MAX_DEVICES - 1, 0.15, size=n)).astype(np.int8)
    device_types = np.empty((n, MAX_DEVICES), dtype=np.int8)
    for slot in range(MAX_DEVICES):
        device_types[:, slot] = categorical(rng, c["device_preference"])
    c["device_types"] = device_types

    c["email_opt_in"] = rng.random(n) < _per_persona(persona, "email_opt_in")
    # opt-in given at signup or later, to the minute
    delay = np.where(rng.random(n) < 0.7, 0, rng.exponential(45 * DAY, size=n)).astype(np.int64)
    c["opt_in_at"] = np.minimum(c["signup_at"] + delay // 60 * 60, as_of - 3600)
    c["tracking_consent"] = rng.random(n) < _per_persona(persona, "tracking_consent")
    c["online_share"] = _per_persona(persona, "online_share")
    c["bad_address"] = rng.random(n) < BAD_ADDRESS_SHARE
    c["welcome_order"] = (persona == NEW) & (rng.random(n) < WELCOME_ORDER_PROBABILITY)
    income = _per_persona(persona, "income")
    c["income_band"] = categorical(rng, income).astype(np.int8)

    c["country"] = rng.choice(len(COUNTRIES), size=n, p=[x[1] for x in COUNTRIES]).astype(np.int8)
    c["gender"] = rng.choice(len(GENDER_SHARES), size=n, p=GENDER_SHARES).astype(np.int8)
    age_days = rng.uniform(18 * 365.25, 80 * 365.25, size=n)
    c["birth_day"] = (as_of // DAY - age_days).astype(np.int64)
    return c


def _dirichlet_rows(rng: np.random.Generator, alpha: np.ndarray) -> np.ndarray:
    draws = rng.gamma(alpha)
    draws = np.maximum(draws, 1e-12)
    return draws / draws.sum(axis=1, keepdims=True)


__all__ = ["DEVICES", "PERSONAS", "PERSONA_NAMES", "Persona", "draw_contacts"]
