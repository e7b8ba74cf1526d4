"""Vectorised text building: timestamps, ids, money and file lines as Arrow string arrays.

Fixed-width values are assembled as uint8 matrices from lookup tables and wrapped into an Arrow
buffer without a per-row Python step; variable-width values use Arrow compute kernels.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EPOCH_DATE = dt.date(1970, 1, 1)
DAY = 86_400


def from_matrix(matrix: np.ndarray) -> pa.StringArray:
    """Arrow strings from a (n, width) uint8 matrix of ASCII bytes."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix, dtype=np.uint8).reshape(-1)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def literal(text: str, n: int) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text.encode(), dtype=np.uint8), (n, len(text.encode())))


def hstack(*parts: np.ndarray | str, n: int | None = None) -> np.ndarray:
    """Concatenate byte matrices and literals column-wise."""
    if n is None:
        n = next(len(p) for p in parts if not isinstance(p, str))
    return np.concatenate([literal(p, n) if isinstance(p, str) else p for p in parts], axis=1)


@lru_cache(maxsize=4)
def _digit_table(width: int) -> np.ndarray:
    values = np.arange(10**width)
    table = np.empty((10**width, width), dtype=np.uint8)
    for position in range(width):
        table[:, width - 1 - position] = 48 + (values // 10**position) % 10
    return table


def digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as a (n, width) matrix."""
    values = np.asarray(values, dtype=np.int64)
    groups = []
    remaining = values.copy()
    left = width
    while left > 0:
        size = min(4, left)
        groups.append(_digit_table(size)[remaining % 10**size])
        remaining //= 10**size
        left -= size
    return np.concatenate(groups[::-1], axis=1)


@lru_cache(maxsize=8)
def _date_table(first_day: int, last_day: int) -> np.ndarray:
    days = [(EPOCH_DATE + dt.timedelta(days=d)).isoformat() for d in range(first_day, last_day + 1)]
    return np.frombuffer("".join(days).encode(), dtype=np.uint8).reshape(-1, 10)


@lru_cache(maxsize=1)
def _time_table() -> np.ndarray:
    seconds = np.arange(DAY)
    hours, rest = np.divmod(seconds, 3600)
    minutes, secs = np.divmod(rest, 60)
    return hstack(digits(hours, 2), ":", digits(minutes, 2), ":", digits(secs, 2))


def date_matrix(days: np.ndarray) -> np.ndarray:
    """YYYY-MM-DD for days since the epoch."""
    days = np.asarray(days, dtype=np.int64)
    if len(days) == 0:
        return np.empty((0, 10), dtype=np.uint8)
    first, last = int(days.min()), int(days.max())
    first = first - first % 4096
    last = last - last % 4096 + 4095
    return _date_table(first, last)[days - first]


def time_matrix(seconds_of_day: np.ndarray) -> np.ndarray:
    """HH:MM:SS for seconds since midnight."""
    return _time_table()[np.asarray(seconds_of_day, dtype=np.int64)]


def iso_timestamps(seconds: np.ndarray) -> pa.StringArray:
    """Canonical UTC timestamps YYYY-MM-DDTHH:MM:SSZ."""
    days, second_of_day = np.divmod(np.asarray(seconds, dtype=np.int64), DAY)
    return from_matrix(hstack(date_matrix(days), "T", time_matrix(second_of_day), "Z", n=len(days)))


def iso_dates(days: np.ndarray) -> pa.StringArray:
    return from_matrix(date_matrix(days))


def ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Civil year, month, day of days since the epoch (H. Hinnant's algorithm)."""
    z = np.asarray(days, dtype=np.int64) + 719_468
    era = np.floor_divide(z, 146_097)
    day_of_era = z - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = np.where(month_index < 10, month_index + 3, month_index - 9)
    return year_of_era + era * 400 + (month <= 2), month, day


def prefixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.StringArray:
    """Readable ids such as C00000042 or SKU-00042."""
    numbers = np.asarray(numbers, dtype=np.int64)
    return from_matrix(hstack(prefix, digits(numbers, width), n=len(numbers)))


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def hex_ids(values: np.ndarray) -> pa.StringArray:
    """16 lower-case hex characters of uint64 values (use datagen.rng.mix64 to make them look random)."""
    as_bytes = np.asarray(values, dtype=">u8").view(np.uint8).reshape(-1, 8)
    matrix = np.empty((len(as_bytes), 16), dtype=np.uint8)
    matrix[:, 0::2] = _HEX[as_bytes >> 4]
    matrix[:, 1::2] = _HEX[as_bytes & 15]
    return from_matrix(matrix)


def money(cents: np.ndarray) -> pa.StringArray:
    """Decimal amounts with two decimals ("-12.50") from integer cents."""
    cents = np.asarray(cents, dtype=np.int64)
    units, hundredths = np.divmod(np.abs(cents), 100)
    text = concat(pc.cast(pa.array(units), pa.string()), ".", from_matrix(digits(hundredths, 2)))
    return pc.if_else(pa.array(cents < 0), concat("-", text), text)


def integers(values: np.ndarray) -> pa.StringArray:
    return pc.cast(pa.array(np.asarray(values, dtype=np.int64)), pa.string())


def concat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and literals (null if any part is null)."""
    return pc.binary_join_element_wise(*parts, "")


def take(vocabulary: pa.Array | list[str], index: np.ndarray) -> pa.Array:
    """vocabulary[index]; index -1 gives null."""
    if not isinstance(vocabulary, pa.Array):
        vocabulary = pa.array(vocabulary, type=pa.string())
    index = np.asarray(index, dtype=np.int64)
    return vocabulary.take(pa.array(index, mask=index < 0))


def replace_at(
    values: pa.Array, positions: np.ndarray, replacements: pa.Array | list[str | None]
) -> pa.Array:
    """Copy of values with values[positions] replaced (positions sorted, one replacement each)."""
    if len(positions) == 0:
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[positions] = True
    order = np.argsort(positions, kind="stable")
    if not isinstance(replacements, pa.Array):
        replacements = pa.array(replacements, type=pa.string())
    return pc.replace_with_mask(values, pa.array(mask), replacements.take(pa.array(order)))


def nulls(n: int) -> pa.Array:
    return pa.nulls(n, type=pa.string())


def _string_bytes(array: pa.Array) -> bytes:
    """The concatenated bytes of a string array without nulls."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    offsets_type = np.int64 if array.type == pa.large_string() else np.int32
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=offsets_type)
    start, end = int(offsets[array.offset]), int(offsets[array.offset + len(array)])
    return bytes(memoryview(data_buffer)[start:end]) if data_buffer is not None else b""


_CSV_NEEDS_QUOTES = r'[",\r\n]|^\s|\s$'


def csv_bytes(columns: list[pa.Array], header: list[str] | None) -> bytes:
    """RFC 4180 CSV lines (\\n endings); null is an empty field, fields with quotes, commas, line
    breaks or edge spaces are quoted with doubled quotes."""
    cells = []
    for column in columns:
        column = column.cast(pa.string())
        needs = pc.fill_null(pc.match_substring_regex(column, _CSV_NEEDS_QUOTES), False)
        if pc.any(needs).as_py():
            quoted = concat('"', pc.replace_substring(column, '"', '""'), '"')
            column = pc.if_else(needs, quoted, column)
        cells.append(pc.fill_null(column, ""))
    lines = concat(pc.binary_join_element_wise(*cells, ","), "\n") if cells else pa.array([], pa.string())
    head = b""
    if header is not None:
        head = (",".join(header) + "\n").encode()
    return head + (_string_bytes(lines) if len(lines) else b"")


_JSON_ESCAPES = r'["\\\n\r\t]'


def _json_string(column: pa.Array) -> pa.Array:
    escaped = column
    if not pc.any(pc.match_substring_regex(column, _JSON_ESCAPES)).as_py():
        return pc.fill_null(concat('"', escaped, '"'), "null")
    for raw, replacement in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        escaped = pc.replace_substring(escaped, raw, replacement)
    return pc.fill_null(concat('"', escaped, '"'), "null")


def jsonl_bytes(names: list[str], columns: list[pa.Array]) -> bytes:
    """One JSON object per line, keys in column order, every value a string or null."""
    if not columns or len(columns[0]) == 0:
        return b""
    parts = []
    for index, (name, column) in enumerate(zip(names, columns, strict=True)):
        key = ("{" if index == 0 else ",") + f'"{name}":'
        parts.append(concat(key, _json_string(column.cast(pa.string()))))
    return _string_bytes(concat(pc.binary_join_element_wise(*parts, ""), "}\n"))
