"""Do two computations of the core marts agree? Same keys, and in every compared column the same
value: text, booleans, dates and times exactly, counts exactly, money within one cent (a sum or an
average rounded to cents can land either side of a half cent depending on float or decimal
arithmetic), rates within 1e-9 (float division). Every column a reference computes is compared;
the dbt marts' other columns are out of the references' scope (bench/references/inputs.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from bench.references.inputs import SEGMENTS

KEYS = {
    "customer_profiles": ["customer_key"],
    "customer_rfm": ["customer_key"],
    "customer_engagement": ["customer_key"],
    "segment_membership": ["segment_name", "customer_key"],
}
MONEY = {"lifetime_revenue", "average_order_value", "monetary"}
MONEY_TOLERANCE = 0.01
RATE_TOLERANCE = 1e-9


@dataclass
class Agreement:
    """What differs between a reference and dbt, mart by mart (empty when they agree)."""

    reference: str
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return not self.problems


def dbt_marts(warehouse, columns: dict[str, list[str]]) -> dict[str, pd.DataFrame]:
    """The dbt marts, only the columns the references compute (segment membership: only the
    segments they compute)."""
    marts = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for mart, names in columns.items():
            where = f"where segment_name in {tuple(SEGMENTS)}" if mart == "segment_membership" else ""
            marts[mart] = con.execute(f"select {', '.join(names)} from marts.{mart} {where}").df()
    return marts


def uncompared_columns(warehouse, columns: dict[str, list[str]]) -> dict[str, list[str]]:
    """The dbt marts' columns the references do not compute, mart by mart: what the agreement does
    not cover, recorded beside every comparison."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {
            mart: [
                c for c in con.execute(f"select * from marts.{mart} limit 0").df().columns if c not in names
            ]
            for mart, names in columns.items()
        }


def _normalized(series: pd.Series) -> pd.Series:
    """Decimals as floats, dates and times as naive timestamps, missing as None."""
    if series.dtype == object:
        sample = series.dropna()
        if len(sample) and not isinstance(sample.iloc[0], str | bool | np.bool_):
            converted = (
                pd.to_numeric(series, errors="coerce") if not hasattr(sample.iloc[0], "year") else None
            )
            series = converted if converted is not None else pd.to_datetime(series)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_any_dtype(series):
        series = series.astype("datetime64[us]")
    if pd.api.types.is_bool_dtype(series) or str(series.dtype) == "boolean":
        series = series.astype(object)
    return series


def _column_differs(column: str, left: pd.Series, right: pd.Series) -> pd.Series:
    left, right = _normalized(left), _normalized(right)
    both_missing = left.isna() & right.isna()
    numeric = pd.api.types.is_numeric_dtype(left) and pd.api.types.is_numeric_dtype(right)
    if numeric and not (pd.api.types.is_bool_dtype(left) or pd.api.types.is_bool_dtype(right)):
        a, b = left.astype(float), right.astype(float)
        tolerance = MONEY_TOLERANCE + 1e-9 if column in MONEY else RATE_TOLERANCE
        close = (a - b).abs() <= tolerance * (
            1 if column in MONEY else np.maximum(1, np.maximum(a.abs(), b.abs()))
        )
        return ~(both_missing | close.fillna(False))
    equal = left.astype(object).where(left.notna(), None) == right.astype(object).where(right.notna(), None)
    return ~(both_missing | equal)


def compare(reference: str, computed: dict[str, pd.DataFrame], dbt: dict[str, pd.DataFrame]) -> Agreement:
    agreement = Agreement(reference)
    for mart, key in KEYS.items():
        ours, theirs = computed[mart], dbt[mart]
        agreement.rows[mart] = len(ours)
        for name, frame in ((reference, ours), ("dbt", theirs)):
            duplicated = int(frame.duplicated(key).sum())
            if duplicated:
                agreement.problems.append(f"{mart}: {duplicated} duplicate keys in {name}")
        merged = ours.merge(theirs, on=key, how="outer", suffixes=("", "__dbt"), indicator=True)
        for side, label in (("left_only", f"only in {reference}"), ("right_only", "only in dbt")):
            missing = merged[merged["_merge"] == side]
            if len(missing):
                examples = missing[key].head(3).to_dict("records")
                agreement.problems.append(f"{mart}: {len(missing)} keys {label}, e.g. {examples}")
        both = merged[merged["_merge"] == "both"]
        for column in ours.columns:
            if column in key:
                continue
            if f"{column}__dbt" not in both:
                agreement.problems.append(f"{mart}.{column}: not a column of the dbt mart")
                continue
            differs = _column_differs(column, both[column], both[f"{column}__dbt"])
            if differs.any():
                rows = both[differs]
                examples = rows[[*key, column, f"{column}__dbt"]].head(3).to_dict("records")
                agreement.problems.append(
                    f"{mart}.{column}: {int(differs.sum())} rows differ, e.g. {examples}"
                )
    return agreement
