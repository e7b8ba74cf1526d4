"""Exchange rates the generator uses for orders in non-reporting currencies.

The pipeline converts with seeds/currency_rates.csv (latest rate on or before the order's date), so
the generator uses that same table when the repository has it: converting a generated amount back
then gives the USD amount of the ground truth. Without the seed (datagen used outside the
repository), built-in rates drifting around realistic levels are used. Either way the daily table
is written to ground_truth/currency_rates.parquet.
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from datagen import text
from datagen.text import DAY

CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD")
UNITS_PER_USD = np.array([1.0, 0.92, 0.79, 1.36, 1.52])
_PHASE = np.array([0.0, 0.7, 2.1, 3.9, 5.2])
SEED_FILE = Path(__file__).resolve().parents[1] / "seeds" / "currency_rates.csv"


@lru_cache(maxsize=1)
def _seed_rates() -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """Per currency index: (valid_from days, usd_per_unit), sorted; None without a usable seed."""
    if not SEED_FILE.exists():
        return None
    rows: dict[int, list[tuple[int, float]]] = {}
    with SEED_FILE.open(newline="") as handle:
        for row in csv.DictReader(handle):
            code = row.get("currency_code", "").strip().upper()
            if code in CURRENCIES:
                day = (dt.date.fromisoformat(row["valid_from"].strip()) - text.EPOCH_DATE).days
                rows.setdefault(CURRENCIES.index(code), []).append((day, float(row["usd_per_unit"])))
    if not all(index in rows for index in range(1, len(CURRENCIES))):
        return None
    return {
        index: tuple(np.array(v) for v in zip(*sorted(entries), strict=True))
        for index, entries in rows.items()
    }


def rates_source() -> str:
    return "seeds/currency_rates.csv" if _seed_rates() is not None else "built-in"


def units_per_usd(currency: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Units of `currency` (index into CURRENCIES) bought by one USD on the day of `seconds`."""
    currency = np.asarray(currency, dtype=np.int64)
    day = np.floor_divide(np.asarray(seconds, dtype=np.int64), DAY)
    seed = _seed_rates()
    if seed is None:
        drift = 0.03 * np.sin(2 * np.pi * day / 365.25 + _PHASE[currency])
        return np.where(currency == 0, 1.0, UNITS_PER_USD[currency] * (1 + drift))
    rate = np.ones(len(currency))
    for index, (valid_from, usd_per_unit) in seed.items():
        rows = currency == index
        position = np.maximum(np.searchsorted(valid_from, day[rows], side="right") - 1, 0)
        rate[rows] = 1.0 / usd_per_unit[position]
    return rate


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
