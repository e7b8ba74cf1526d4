"""The run-wide facts every block's simulation and every table builder reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from datagen.calendar import Calendar
from datagen.catalog import Campaigns, Catalog


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
