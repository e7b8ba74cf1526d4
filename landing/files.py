"""Finding a table's files under the landing folder and reading their headers."""

from __future__ import annotations

import csv
import gzip
import hashlib
from dataclasses import dataclass
from pathlib import Path

from landing.contract import LandingTable

FORMAT_BY_SUFFIX = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "csv",
    ".tsv.gz": "csv",
    ".parquet": "parquet",
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".ndjson": "jsonl",
    ".ndjson.gz": "jsonl",
}
DELIMITER_CANDIDATES = (",", ";", "\t", "|")
MAX_HEADER_BYTES = 1 << 20  # a file with lone-CR line ends has no b"\n": never read it all


class LandingError(Exception):
    """A landing file breaks the contract; the message names the file and what to fix."""


@dataclass(frozen=True)
class LandingFile:
    path: Path
    format: str
    size_bytes: int
    modified_ns: int

    @property
    def signature(self) -> str:
        """Cheap identity of the file's content: name, size and modification time."""
        return hashlib.sha256(f"{self.path}|{self.size_bytes}|{self.modified_ns}".encode()).hexdigest()[:16]


def file_format(path: Path) -> str | None:
    name = path.name.lower()
    for suffix in sorted(FORMAT_BY_SUFFIX, key=len, reverse=True):
        if name.endswith(suffix):
            return FORMAT_BY_SUFFIX[suffix]
    return None


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(FORMAT_BY_SUFFIX, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def discover_files(landing_dir: Path, table: LandingTable) -> list[LandingFile]:
    """`<source>/<table>.<ext>`, `<source>/<table>_<anything>.<ext>` or any data file under
    `<source>/<table>/`, sorted by path so that every run reads them in the same order."""
    source_dir = landing_dir / table.source
    if not source_dir.is_dir():
        return []
    candidates: set[Path] = set()
    for path in source_dir.iterdir():
        if path.is_file() and file_format(path):
            stem = _stem(path)
            if stem == table.table or stem.startswith(f"{table.table}_"):
                candidates.add(path)
    table_dir = source_dir / table.table
    if table_dir.is_dir():
        candidates.update(p for p in table_dir.rglob("*") if p.is_file() and file_format(p))
    files = []
    for path in sorted(candidates):
        stat = path.stat()
        files.append(LandingFile(path.resolve(), file_format(path), stat.st_size, stat.st_mtime_ns))
    return files


def unclaimed_files(landing_dir: Path, claimed: set[Path]) -> list[Path]:
    """Data files under the landing folder that no contract table reads: almost always a typo in a
    file name, so they are reported rather than silently ignored."""
    if not landing_dir.is_dir():
        return []
    return sorted(
        p.resolve()
        for p in landing_dir.rglob("*")
        if p.is_file() and file_format(p) and p.resolve() not in claimed
    )


def _first_line(path: Path) -> bytes:
    """The header line's bytes only: decoding more would blame the header for a bad byte in a row."""
    with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb") as handle:
        first = handle.readline(MAX_HEADER_BYTES)
    carriage_return = first.find(b"\r")
    return first[:carriage_return] if carriage_return >= 0 else first


def read_csv_header(path: Path) -> tuple[list[str], str]:
    """The header's column names (trimmed, lower-cased) and the delimiter it uses."""
    try:
        first_line = _first_line(path).decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LandingError(f"{path}: the header is not UTF-8 text ({error.reason}).") from error
    if not first_line.strip():
        raise LandingError(f"{path}: the file is empty or its first line is blank; a header row is required.")
    delimiter = max(DELIMITER_CANDIDATES, key=first_line.count)
    names = next(csv.reader([first_line.rstrip("\r\n")], delimiter=delimiter))
    columns = [name.strip().lower() for name in names]
    if any(not name for name in columns):
        raise LandingError(f"{path}: the header has an empty column name: {names!r}.")
    duplicates = sorted({name for name in columns if columns.count(name) > 1})
    if duplicates:
        raise LandingError(f"{path}: the header repeats column(s) {duplicates}.")
    return columns, delimiter


def _file_signatures(landing_dir: Path) -> list[tuple[str, str]]:
    """(source folder, `path|size|mtime`) of every data file, sorted: names, sizes and modification
    times only, so a sensor tick costs a directory walk, never a read."""
    signatures = []
    for path in sorted(p for p in landing_dir.rglob("*") if p.is_file() and file_format(p)):
        stat = path.stat()
        relative = path.relative_to(landing_dir)
        signatures.append((relative.parts[0], f"{relative}|{stat.st_size}|{stat.st_mtime_ns}"))
    return signatures


def _digest(entries: list[str]) -> str:
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]


def landing_fingerprints(landing_dir: Path) -> tuple[str, dict[str, str]]:
    """The folder's fingerprint, which changes whenever a data file under it is added, removed or
    rewritten, and the same per source folder (`web`, `orders`, ...), from one walk: what the
    file-arrival sensor compares between ticks and with what the last published run processed,
    so it can tell new web events alone from a change to consent's sources."""
    if not landing_dir.is_dir():
        return "absent", {}
    signatures = _file_signatures(landing_dir)
    by_source: dict[str, list[str]] = {}
    for source, entry in signatures:
        by_source.setdefault(source, []).append(entry)
    return (
        _digest([entry for _, entry in signatures]),
        {source: _digest(entries) for source, entries in by_source.items()},
    )


def landing_fingerprint(landing_dir: Path) -> str:
    """The folder's fingerprint alone (landing_fingerprints)."""
    return landing_fingerprints(landing_dir)[0]
