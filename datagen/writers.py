"""Landing files: CSV, Parquet or JSON lines, single or chunked, plus the dirt records they hold.

Files are written under a hidden partial name and renamed when complete, so a file-arrival sensor
never sees half a file. Rerunning replaces the generator's own files (stale parts included).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from datagen import text
from datagen.batch import Batch
from datagen.config import EXTENSIONS
from datagen.dirt import HANDLING, TABLE_DIRT

DIRT_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("table", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("key", pa.string()),
        ("dirt_kind", pa.string()),
        ("column", pa.string()),
        ("handling", pa.string()),
    ]
)


@dataclass
class FileStats:
    rows: int = 0
    bytes: int = 0


class Landing:
    """The landing folder of one run: file statistics, and the dirt records of everything written,
    streamed to dirt.parquet in write order (deterministic) so they never pile up in memory."""

    def __init__(self, out: Path, dirt_path: Path) -> None:
        self.out = out
        self.files: dict[str, FileStats] = {}
        self.dirt_counts: dict[str, int] = {}
        self.dirt_path = dirt_path
        self._dirt_partial = dirt_path.with_name(f".{dirt_path.name}.partial")
        self._dirt_writer = pq.ParquetWriter(self._dirt_partial, DIRT_SCHEMA, compression="zstd")

    def clear(self, source: str, table: str) -> None:
        """Remove what an earlier run wrote for this table, in any format."""
        folder = self.out / source
        for extension in EXTENSIONS.values():
            for path in (folder / f"{table}.{extension}", folder / f".{table}.{extension}.partial"):
                path.unlink(missing_ok=True)
        chunks = folder / table
        if chunks.is_dir():
            for path in chunks.iterdir():
                is_part = path.name.startswith(("part-", ".part-"))
                if is_part and path.suffix in {".csv", ".parquet", ".jsonl", ".partial"}:
                    path.unlink()
            if not any(chunks.iterdir()):
                chunks.rmdir()

    def record_dirt(self, source: str, table: str, relative: str, first_row: int, batch: Batch) -> None:
        rows = np.flatnonzero(batch.dirt)
        if len(rows) == 0:
            return
        kinds = TABLE_DIRT[(source, table)]
        masks = batch.dirt[rows]
        hits, bits = [], []
        for b in range(len(kinds)):
            hit = rows[(masks & (np.uint64(1) << np.uint64(b))) != 0]
            if len(hit):
                hits.append(hit)
                bits.append(np.full(len(hit), b))
        hit, bit = np.concatenate(hits), np.concatenate(bits)
        order = np.lexsort((bit, hit))
        hit, bit = hit[order], bit[order]
        n = len(hit)
        kind_names = [kind for kind, _ in kinds]
        for b, count in zip(*np.unique(bit, return_counts=True), strict=True):
            self.dirt_counts[kind_names[b]] = self.dirt_counts.get(kind_names[b], 0) + int(count)
        records = pa.table(
            {
                "source": pa.array([source] * n, pa.string()),
                "table": pa.array([table] * n, pa.string()),
                "file": pa.array([relative] * n, pa.string()),
                "row": pa.array(hit + first_row, pa.int64()),
                "key": batch.key.take(pa.array(hit)).cast(pa.string()),
                "dirt_kind": text.take(kind_names, bit),
                "column": text.take([column for _, column in kinds], bit),
                "handling": text.take([HANDLING[kind] for kind, _ in kinds], bit),
            },
            schema=DIRT_SCHEMA,
        )
        self._dirt_writer.write_table(records, row_group_size=1 << 20)

    def close(self) -> None:
        self._dirt_writer.close()
        os.replace(self._dirt_partial, self.dirt_path)

    def abort(self) -> None:
        self._dirt_writer.close()
        self._dirt_partial.unlink(missing_ok=True)


class TableFile:
    """One output file, written incrementally; the batches appended become its rows in order."""

    def __init__(
        self, landing: Landing, source: str, table: str, relative: str, fmt: str, names: list[str]
    ) -> None:
        self.landing, self.source, self.table, self.relative, self.fmt, self.names = (
            landing,
            source,
            table,
            relative,
            fmt,
            names,
        )
        self.path = landing.out / relative
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.path.with_name(f".{self.path.name}.partial")
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None
        self._handle = None
        schema = pa.schema([(name, pa.string()) for name in names])
        if fmt == "parquet":
            self._parquet = pq.ParquetWriter(self.partial, schema, compression="zstd")
        else:
            self._handle = open(self.partial, "wb")  # noqa: SIM115 - closed in close()
            if fmt == "csv":
                self._handle.write((",".join(names) + "\n").encode())
        self._schema = schema

    def append(self, batch: Batch) -> None:
        if len(batch) == 0:
            return
        columns = [batch.columns[name].cast(pa.string()) for name in self.names]
        if self._parquet is not None:
            self._parquet.write_table(
                pa.Table.from_arrays(columns, schema=self._schema), row_group_size=256_000
            )
        elif self.fmt == "csv":
            self._handle.write(text.csv_bytes(columns, header=None))
        else:
            self._handle.write(text.jsonl_bytes(self.names, columns))
        self.landing.record_dirt(self.source, self.table, self.relative, self.rows, batch)
        self.rows += len(batch)

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        else:
            self._handle.close()
        os.replace(self.partial, self.path)
        self.landing.files[self.relative] = FileStats(self.rows, self.path.stat().st_size)


class TableOutput:
    """A table's files: `<source>/<table>.<ext>` or `<source>/<table>/part-NNNNN.<ext>` when chunked."""

    def __init__(
        self, landing: Landing, source: str, table: str, fmt: str, names: list[str], chunked: bool
    ) -> None:
        self.landing, self.source, self.table, self.fmt, self.names, self.chunked = (
            landing,
            source,
            table,
            fmt,
            names,
            chunked,
        )
        landing.clear(source, table)
        self._single: TableFile | None = None
        if not chunked:
            self._single = self._open(f"{source}/{table}.{EXTENSIONS[fmt]}")

    def _open(self, relative: str) -> TableFile:
        return TableFile(self.landing, self.source, self.table, relative, self.fmt, self.names)

    def write(self, batch: Batch, part: int = 0) -> None:
        if self._single is not None:
            self._single.append(batch)
            return
        chunk = self._open(f"{self.source}/{self.table}/part-{part:05d}.{EXTENSIONS[self.fmt]}")
        chunk.append(batch)
        chunk.close()

    def close(self) -> None:
        if self._single is not None:
            self._single.close()


class Spool:
    """Numeric rows of a time-chunked table, spooled per block to Arrow IPC files and read back per chunk.

    Each block's rows are sorted by chunk and written once; reading a chunk memory-maps the slice of
    every block file, so only one chunk is ever materialised.
    """

    def __init__(self, directory: Path, name: str, n_periods: int) -> None:
        self.directory = directory / name
        self.directory.mkdir(parents=True, exist_ok=True)
        self.n_periods = n_periods
        self.files: list[tuple[Path, np.ndarray]] = []
        self.rows = 0

    def add(self, table: pa.Table) -> None:
        period = table.column("period").to_numpy()
        order = np.argsort(period, kind="stable")
        table = table.take(pa.array(order))
        bounds = np.searchsorted(period[order], np.arange(self.n_periods + 1))
        path = self.directory / f"block-{len(self.files):05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table, max_chunksize=1 << 20)
        self.files.append((path, bounds))
        self.rows += table.num_rows

    def chunk(self, period: int, sort_by: list[str]) -> pa.Table | None:
        pieces = []
        for path, bounds in self.files:
            start, stop = int(bounds[period]), int(bounds[period + 1])
            if stop > start:
                # the map stays open for as long as the slice's buffers reference it
                source = pa.memory_map(str(path), "r")
                pieces.append(ipc.open_file(source).read_all().slice(start, stop - start))
        if not pieces:
            return None
        table = pa.concat_tables(pieces)
        return table.take(pc.sort_indices(table, [(name, "ascending") for name in sort_by]))

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
