"""The file destination: one CSV and one Parquet file per audience, ready for any ESP's import
screen. It is the default when no ESP is configured.

Each sync writes the whole consented audience (a snapshot, not a diff) to a temporary file in the
same folder and renames it over the old one, so a reader never sees a half-written file."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from activation.config import FileConfig
from activation.destinations.base import SENT, Destination, ListHandle, Member, Outcome, StateMember


def safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "audience"


def _atomic_replace(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        write(Path(tmp))
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class FileDestination(Destination):
    name = "file"
    snapshot = True
    batch_size = 1_000_000

    def __init__(self, config: FileConfig | None = None):
        self.config = config or FileConfig()
        self.directory = Path(self.config.directory)

    def __repr__(self) -> str:
        return f"FileDestination({str(self.directory)!r})"

    @property
    def requests_made(self) -> int:
        return 0

    def paths(self, list_key: str) -> dict[str, Path]:
        parts = [safe_name(p) for p in list_key.split("/")]
        base = self.directory.joinpath(*parts)
        return {fmt: base.with_name(base.name + f".{fmt}") for fmt in self.config.formats}

    def ensure_list(self, list_key: str, known_id: str | None) -> ListHandle:
        paths = self.paths(list_key)
        first = next(iter(paths.values()))
        return ListHandle(list_key, str(first.with_suffix("")), created_now=not first.exists())

    def write_snapshot(self, list_key: str, frame: pd.DataFrame) -> list[Path]:
        """Write the audience (e-mail, customer key, merge fields) in every configured format."""
        table = pa.Table.from_pandas(frame.astype(object).where(frame.notna(), None), preserve_index=False)
        written = []
        for fmt, path in self.paths(list_key).items():
            if fmt == "csv":
                _atomic_replace(path, lambda tmp: frame.to_csv(tmp, index=False))
            elif fmt == "parquet":
                _atomic_replace(path, lambda tmp: pq.write_table(table, tmp))
            else:
                raise ValueError(f"unknown file format {fmt!r}")
            written.append(path)
        return written

    def retire(self, list_key: str) -> list[Path]:
        """Delete the list's files in every format; returns the paths that were there."""
        removed = []
        for path in self.paths(list_key).values():
            if path.exists():
                path.unlink()
                removed.append(path)
        return removed

    def drop_members(self, list_key: str, member_keys: set[str]) -> None:
        """Rewrite the list's files without these e-mails and leave every other row as it was: the
        consent removals of a list whose new snapshot the volume guard refused."""
        for path in self.paths(list_key).values():
            if not path.exists():
                continue
            frame = pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.read_parquet(path)
            leaving = frame["email"].astype(str).str.strip().str.lower().isin(member_keys)
            if not leaving.any():
                continue
            kept = frame.loc[~leaving].reset_index(drop=True)
            if path.suffix == ".csv":
                _atomic_replace(path, lambda tmp, kept=kept: kept.to_csv(tmp, index=False))
            else:
                table = pa.Table.from_pandas(kept, preserve_index=False)
                _atomic_replace(path, lambda tmp, table=table: pq.write_table(table, tmp))

    def push(self, handle: ListHandle, creates: list[Member], updates: list[Member]) -> dict[str, Outcome]:
        raise NotImplementedError("the file destination writes snapshots; use write_snapshot")

    def remove(self, handle: ListHandle, members: list[StateMember]) -> dict[str, Outcome]:
        raise NotImplementedError("the file destination writes snapshots; use write_snapshot")

    def erase(self, email: str, customer_key: str | None) -> Outcome:
        """Rewrite every audience file that mentions the person, without them."""
        email = email.strip().lower() if email else email
        touched = 0
        for path in sorted(self.directory.rglob("*.csv")) + sorted(self.directory.rglob("*.parquet")):
            frame = pd.read_csv(path, dtype=str) if path.suffix == ".csv" else pd.read_parquet(path)
            mask = pd.Series(False, index=frame.index)
            if email and "email" in frame.columns:
                mask |= frame["email"].astype(str).str.lower() == email
            if customer_key and "customer_key" in frame.columns:
                mask |= frame["customer_key"].astype(str) == customer_key
            if not mask.any():
                continue
            kept = frame.loc[~mask]
            if path.suffix == ".csv":
                _atomic_replace(path, lambda tmp, kept=kept: kept.to_csv(tmp, index=False))
            else:
                table = pa.Table.from_pandas(kept, preserve_index=False)
                _atomic_replace(path, lambda tmp, table=table: pq.write_table(table, tmp))
            touched += 1
        return Outcome(SENT, f"removed from {touched} file(s)")
