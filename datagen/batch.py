"""Rows of one table on their way to a landing file: its own module so that the table builders,
the dirt helpers and the writers can all use it without importing each other."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa


@dataclass
class Batch:
    """Rows of one table: text columns in contract order, the canonical natural key, the dirt mask."""

    columns: dict[str, pa.Array]
    key: pa.Array
    dirt: np.ndarray

    def __len__(self) -> int:
        return len(self.key)

    def take(self, index: np.ndarray) -> Batch:
        selection = pa.array(np.asarray(index, dtype=np.int64))
        return Batch(
            {k: v.take(selection) for k, v in self.columns.items()},
            self.key.take(selection),
            self.dirt[index],
        )

    @staticmethod
    def concat(batches: list[Batch]) -> Batch:
        names = list(batches[0].columns)
        return Batch(
            {k: pa.concat_arrays([b.columns[k].cast(pa.string()) for b in batches]) for k in names},
            pa.concat_arrays([b.key.cast(pa.string()) for b in batches]),
            np.concatenate([b.dirt for b in batches]),
        )
