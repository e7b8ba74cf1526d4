"""Times in ml/ are naive UTC.

The marts' timestamps and a caller's as_of may carry a time zone or not, and pandas refuses to
compare the two kinds, so every module converts on the way in, with these two functions.
"""

from __future__ import annotations

import pandas as pd


def naive_utc(value) -> pd.Timestamp:
    """A moment as a naive UTC Timestamp; a naive one is taken to be UTC already."""
    moment = pd.Timestamp(value)
    return moment.tz_convert("UTC").tz_localize(None) if moment.tzinfo is not None else moment


def naive_utc_times(values: pd.Series) -> pd.Series:
    """A column of moments as naive UTC datetimes; a naive column is taken to be UTC already."""
    times = pd.to_datetime(values)
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times
