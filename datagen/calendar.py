"""Seasonal intensity over the history: sampling event times of an inhomogeneous Poisson process.

The intensity of an hour is month x weekday x hour-of-day multipliers, normalised to a mean of 1,
so a rate of "x per year" yields about x events in a year. Times are drawn by inverting the
cumulative intensity (one np.interp per batch, no per-event loop).
"""

from __future__ import annotations

import numpy as np

from datagen.text import DAY, ymd

HOURS_PER_YEAR = 8766.0

MONTH = np.array([0.9, 0.8, 0.9, 0.95, 0.95, 0.85, 0.8, 0.8, 0.95, 1.0, 1.45, 1.6])
# Holiday shoppers buy almost only in November and December.
HOLIDAY_MONTH = np.array([0.05, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.03, 0.05, 0.3, 4.0, 5.0])
WEEKDAY = np.array([1.1, 1.0, 1.0, 1.0, 0.95, 0.9, 1.05])  # Monday first
HOUR = np.array(
    [0.35, 0.25, 0.18, 0.15, 0.15, 0.2, 0.35, 0.6, 0.8, 0.95, 1.0, 1.05,
     1.15, 1.1, 1.05, 1.05, 1.1, 1.2, 1.35, 1.5, 1.6, 1.45, 1.0, 0.6]
)  # fmt: skip

PROFILES = ("regular", "holiday")


def weekday_of(seconds: np.ndarray) -> np.ndarray:
    """Monday = 0 (1970-01-01 was a Thursday)."""
    return (np.floor_divide(seconds, DAY) + 3) % 7


class Calendar:
    """Cumulative seasonal intensity on an hourly grid covering [start, end]."""

    def __init__(self, start: int, end: int) -> None:
        first_hour = start - start % 3600
        self.grid = np.arange(first_hour, end + 7200, 3600, dtype=np.int64)
        hour_starts = self.grid[:-1]
        _, month, _ = ymd(np.floor_divide(hour_starts, DAY))
        weekday = weekday_of(hour_starts)
        hour = (hour_starts % DAY) // 3600
        base = WEEKDAY[weekday] * HOUR[hour]
        self.cumulative: dict[str, np.ndarray] = {}
        for name, months in (("regular", MONTH), ("holiday", HOLIDAY_MONTH)):
            intensity = months[month - 1] * base
            intensity = intensity / intensity.mean()
            self.cumulative[name] = np.concatenate([[0.0], np.cumsum(intensity)]) / HOURS_PER_YEAR

    def years(self, profile: str, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Intensity-weighted years between lo and hi (expected events for a rate of 1 per year)."""
        cumulative = self.cumulative[profile]
        return np.maximum(np.interp(hi, self.grid, cumulative) - np.interp(lo, self.grid, cumulative), 0.0)

    def sample(self, profile: str, lo: np.ndarray, hi: np.ndarray, u: np.ndarray) -> np.ndarray:
        """Seconds of events placed at quantile u of the seasonal intensity between lo and hi."""
        cumulative = self.cumulative[profile]
        a = np.interp(lo, self.grid, cumulative)
        b = np.interp(hi, self.grid, cumulative)
        times = np.interp(a + u * (b - a), cumulative, self.grid)
        return np.clip(np.floor(times).astype(np.int64), lo, np.maximum(hi - 1, lo))

    def years_per_row(self, profiles: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """years() with each row's own profile."""
        years = np.empty(len(lo))
        for name in np.unique(profiles):
            rows = profiles == name
            years[rows] = self.years(str(name), lo[rows], hi[rows])
        return years

    def sample_per_row(
        self, profiles: np.ndarray, lo: np.ndarray, hi: np.ndarray, u: np.ndarray
    ) -> np.ndarray:
        """sample() with each row's own profile."""
        times = np.empty(len(lo), dtype=np.int64)
        for name in np.unique(profiles):
            rows = profiles == name
            times[rows] = self.sample(str(name), lo[rows], hi[rows], u[rows])
        return times
