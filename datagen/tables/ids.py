"""Identifiers more than one source writes: contact, order and product ids, and event row uids.

An event row's uid is block << 40, plus DIRT_UID for rows added by dirt, plus a lane (bit 38) that
keeps two kinds of added rows apart, plus the row number: unique across blocks and kinds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from datagen import text

ORDER_ID_SPACE = 10_000_000  # order numbers of block b are b * ORDER_ID_SPACE + 1 ...
DIRT_UID = np.uint64(1 << 39)  # uid space of rows added by dirt (base rows count from 0)


def contact_ids(numbers: np.ndarray) -> pa.Array:
    """C00000042 for contact number 42 (numbers start at 1)."""
    return text.prefixed_ids("C", numbers, 8)


def order_ids(numbers: np.ndarray) -> pa.Array:
    return text.prefixed_ids("O", numbers, 10)


def product_ids(count: int) -> pa.Array:
    return text.prefixed_ids("SKU-", np.arange(1, count + 1), 5)


def event_uids(block: int, n: int) -> np.ndarray:
    """Uids of a block's base event rows."""
    return (np.uint64(block) << np.uint64(40)) + np.arange(n, dtype=np.uint64)


def dirt_uids(block: int, n: int, lane: int = 0) -> np.ndarray:
    """Uids of event rows added by dirt; `lane` 0 or 1 separates two kinds added to one table."""
    return (
        (np.uint64(block) << np.uint64(40))
        + DIRT_UID
        + (np.uint64(lane) << np.uint64(38))
        + np.arange(n, dtype=np.uint64)
    )
