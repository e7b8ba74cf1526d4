"""Exchange rates the generator uses for orders in non-reporting currencies.

Rates drift smoothly around realistic levels, one rate per currency and day. The table is written
to ground_truth/currency_rates.parquet so a reference seed can be compared with it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datagen import text
from datagen.text import DAY

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
UNITS_PER_USD = np.array([1.0, 0.92, 0.79, 1.36, 1.52])
_PHASE = np.array([0.0, 0.7, 2.1, 3.9, 5.2])


def units_per_usd(currency: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Units of `currency` (index into CURRENCIES) bought by one USD on the day of `seconds`."""
    day = np.floor_divide(seconds, DAY)
    drift = 0.03 * np.sin(2 * np.pi * day / 365.25 + _PHASE[currency])
    return np.where(currency == 0, 1.0, UNITS_PER_USD[currency] * (1 + drift))


def rate_table(first_second: int, last_second: int) -> pa.Table:
    days = np.arange(first_second // DAY, last_second // DAY + 1)
    currency = np.repeat(np.arange(1, len(CURRENCIES)), len(days))
    day = np.tile(days, len(CURRENCIES) - 1)
    rate = units_per_usd(currency, day * DAY)
    return pa.table(
        {
            "date": text.iso_dates(day),
            "currency": text.take(list(CURRENCIES), currency),
            "units_per_usd": pa.array(np.round(rate, 6)),
            "usd_per_unit": pa.array(np.round(1 / rate, 6)),
        }
    )
