"""Times in ml/ are naive UTC: an aware moment is converted, a naive one is taken as UTC."""

import pandas as pd

from ml.times import naive_utc, naive_utc_times


def test_an_aware_moment_becomes_the_same_instant_in_naive_utc():
    assert naive_utc("2026-06-30T02:00:00+02:00") == pd.Timestamp("2026-06-30T00:00:00")
    assert naive_utc("2026-06-30T02:00:00+02:00").tzinfo is None


def test_a_naive_moment_is_taken_as_utc_unchanged():
    assert naive_utc("2026-06-30 08:15") == pd.Timestamp("2026-06-30 08:15")


def test_an_aware_column_becomes_naive_utc_and_a_naive_one_stays():
    aware = pd.Series(pd.to_datetime(["2026-01-01T01:00:00+01:00", "2026-01-01T02:00:00+01:00"]))
    naive = pd.Series(["2026-01-01 00:00", "2026-01-02 00:00"])
    midnight = pd.Timestamp("2026-01-01")
    assert naive_utc_times(aware).tolist() == [midnight, midnight + pd.Timedelta(hours=1)]
    assert naive_utc_times(aware).dt.tz is None
    assert naive_utc_times(naive).tolist() == [pd.Timestamp("2026-01-01"), pd.Timestamp("2026-01-02")]
