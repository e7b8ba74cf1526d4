"""Compare one table as DuckDB and Spark built it: the same rows by key, the same columns, numbers
within a stated tolerance. Both sides arrive as Arrow and are normalized to plain Python values, so
that a type each engine spells its own way (Spark's decimal(38, x) for DuckDB's double, a
timestamp with Spark's session zone) compares by value."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from dataclasses import dataclass, field

import pyarrow as pa

# Numbers are equal when |a - b| <= ABSOLUTE + RELATIVE * max(|a|, |b|): float sums and averages
# depend on the order an engine adds rows in (Spark's partitions, DuckDB's threads), which moves the
# last digits; nothing the pipeline computes is meaningful below these.
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-9


@dataclass
class TableDifference:
    table: str
    problems: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.problems)


def _value(value):
    """One cell as a comparable Python value: decimals and floats as float, timestamps naive UTC,
    lists and structs recursively."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _value(v) for k, v in value.items()}
    return value


def _rows(table: pa.Table) -> list[dict]:
    return [{k: _value(v) for k, v in row.items()} for row in table.to_pylist()]


def _numbers_equal(left: float, right: float, absolute: float) -> bool:
    if math.isnan(left) and math.isnan(right):
        return True
    return abs(left - right) <= absolute + RELATIVE_TOLERANCE * max(abs(left), abs(right))


def values_equal(left, right, absolute: float = ABSOLUTE_TOLERANCE) -> bool:
    if left is None or right is None:
        return left is None and right is None
    numbers = (int, float)
    if isinstance(left, numbers) and isinstance(right, numbers) and not isinstance(left, bool):
        return _numbers_equal(float(left), float(right), absolute)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(
            values_equal(a, b, absolute) for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(values_equal(left[k], right[k], absolute) for k in left)
    return left == right


def _sort_key(row: dict, key: list[str]) -> tuple:
    # None first, then by value; the type name keeps a None-vs-value mix orderable.
    return tuple((row[c] is not None, str(type(row[c]).__name__), row[c]) for c in key)


def compare_tables(
    name: str,
    duckdb_table: pa.Table,
    spark_table: pa.Table,
    key: list[str],
    ignored: set[str] = frozenset(),
    tolerances: dict[str, float] | None = None,
) -> TableDifference:
    """Rows matched by `key` (unique on both sides); every other column but `ignored` compared,
    numbers within ABSOLUTE_TOLERANCE unless `tolerances` gives a column a wider one."""
    difference = TableDifference(name)
    left_columns, right_columns = list(duckdb_table.column_names), list(spark_table.column_names)
    if left_columns != right_columns:
        difference.problems.append(f"columns differ: duckdb {left_columns} vs spark {right_columns}")
        return difference
    left = sorted(_rows(duckdb_table), key=lambda row: _sort_key(row, key))
    right = sorted(_rows(spark_table), key=lambda row: _sort_key(row, key))
    left_keys = [tuple(row[c] for c in key) for row in left]
    right_keys = [tuple(row[c] for c in key) for row in right]
    for side, keys in (("duckdb", left_keys), ("spark", right_keys)):
        if len(set(keys)) != len(keys):
            difference.problems.append(f"key {key} is not unique on {side}")
    if left_keys != right_keys:
        only_duckdb = sorted(set(left_keys) - set(right_keys), key=str)[:5]
        only_spark = sorted(set(right_keys) - set(left_keys), key=str)[:5]
        difference.problems.append(
            f"keys differ ({len(left)} rows on duckdb, {len(right)} on spark): only on duckdb {only_duckdb}, "
            f"only on spark {only_spark}"
        )
        return difference
    for column in left_columns:
        if column in ignored:
            continue
        absolute = (tolerances or {}).get(column, ABSOLUTE_TOLERANCE)
        mismatched = [
            (keys, a[column], b[column])
            for keys, a, b in zip(left_keys, left, right, strict=True)
            if not values_equal(a[column], b[column], absolute)
        ]
        if mismatched:
            examples = "; ".join(f"{k}: {a!r} vs {b!r}" for k, a, b in mismatched[:3])
            difference.problems.append(f"{column}: {len(mismatched)} of {len(left)} rows differ ({examples})")
    return difference
