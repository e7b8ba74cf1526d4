"""The landing step with no engine in it: which files each contract table has, which columns they
must carry, and how every line of every file is accounted for. landing/register.py (DuckDB) and
landing/spark.py (Spark) each supply a `LandingReader` that reads and counts; the decisions (read a
CSV file in place or line by line, reject a JSON line, balance a file's lines, fail naming every
problem) are taken here once, so that both engines land the same rows and audit rows.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from landing import csv_lines
from landing.contract import LandingTable, load_contract
from landing.files import (
    LandingError,
    LandingFile,
    discover_files,
    landing_fingerprints,
    read_csv_header,
    unclaimed_files,
)

LINE_NUMBER_COLUMN = "_aw_line_number"
READ_LINE_BY_LINE = "line_reader"


@dataclass(frozen=True)
class FileAccount:
    """One file's rows as the landing step proved them. For CSV,
    data_lines = rows_parsed + lines_rejected + continuation_lines."""

    data_lines: int | None  # non-blank lines after the header (CSV), lines (JSON lines), None (Parquet)
    rows_parsed: int
    lines_rejected: int
    continuation_lines: int  # lines continuing a row whose quoted value spans several lines
    read_by: str  # the engine (read in place) or line_reader (csv_lines, rows stored in the warehouse)


@dataclass
class TableReport:
    """What the landing step found for one contract table."""

    table: LandingTable
    files: list[LandingFile] = field(default_factory=list)
    rows_parsed: int = 0
    rows_rejected: int = 0
    missing_columns: set[str] = field(default_factory=set)
    extra_columns: set[str] = field(default_factory=set)
    accounts: dict[Path, FileAccount] = field(default_factory=dict)

    @property
    def files_read_line_by_line(self) -> list[Path]:
        return [path for path, account in self.accounts.items() if account.read_by == READ_LINE_BY_LINE]

    @property
    def present(self) -> bool:
        return bool(self.files)

    @property
    def fingerprint(self) -> str:
        """Changes whenever a file is added, removed or rewritten: the table's data version."""
        joined = "|".join(f.signature for f in self.files) or "absent"
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    def account(self, path: Path, account: FileAccount) -> None:
        self.rows_parsed += account.rows_parsed
        self.rows_rejected += account.lines_rejected
        self.accounts[path] = account


@dataclass
class LandingReport:
    landing_dir: Path
    tables: list[TableReport]
    unclaimed: list[Path]
    # landing_fingerprints() of the folder when the step started: what a later run compares against
    # to tell whether these files were already processed (the whole folder, and per source).
    fingerprint: str = ""
    source_fingerprints: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> TableReport:
        return next(t for t in self.tables if t.table.name == name)


@dataclass(frozen=True)
class CsvScan:
    """What an engine's strict CSV reader made of one file: rows parsed, line breaks inside their
    values, and whether it rejected (or could not read) any line."""

    rows: int = 0
    newlines_in_values: int = 0
    carriage_returns_in_values: int = 0
    rejected: bool = False


@dataclass(frozen=True)
class LineRead:
    """The accepted lines of one file read line by line, as the engine loaded them."""

    rows: Any  # the engine's rows (None where the engine stores them for line_read_rows)
    parsed: int
    parsed_line_numbers: Callable[[], list[int]]  # asked only to explain an unbalanced file


@dataclass(frozen=True)
class JsonlScan:
    keys_by_file: dict[str, list[str]]  # the object keys of each file, lower-cased
    bad_lines: list[tuple[str, int, str]]  # (file, line number among non-blank lines, raw line)
    parsed_by_file: dict[str, int]


Rows = Any  # an engine's lazy rows: a SQL select on DuckDB, a DataFrame on Spark


class LandingReader(Protocol):
    """What an engine does for the landing step; every decision about the rows is landing/core's."""

    read_by: str  # recorded as landing_files.read_by for files read in place

    def scan_csv(self, paths: list[Path], header: list[str], delimiter: str) -> dict[str, CsvScan]:
        """A CsvScan for every path (keyed by str(path)), reading every column."""

    def csv_in_place(self, table: LandingTable, paths: list[Path], header: list[str], delimiter: str) -> Rows:
        """The rows of files whose scan balanced, each numbered by its position in its file."""

    def accepted_lines(
        self, table: LandingTable, path: Path, accepted: Path, header: list[str], delimiter: str
    ) -> LineRead:
        """Load the CSV of lines csv_lines accepted (first column LINE_NUMBER_COLUMN) as path's rows."""

    def line_read_rows(self, table: LandingTable) -> Rows | None:
        """The rows of all the table's files read line by line, where accepted_lines stored them."""

    def parquet_columns(self, path: Path) -> list[str]:
        """The column names in a Parquet file's schema, as written."""

    def parquet_rows(
        self, table: LandingTable, paths: list[Path], names: dict[str, str]
    ) -> tuple[dict[str, int], Rows]:
        """Rows per file and the rows of all files; names maps contract column -> name as written."""

    def jsonl(self, table: LandingTable, paths: list[Path]) -> tuple[JsonlScan, Rows]:
        """The scan of the non-blank lines and the rows of the lines that are JSON objects."""

    def empty(self, table: LandingTable) -> Rows:
        """No rows, with the landed table's columns: an absent optional table."""


def check_columns(path: Path, table: LandingTable, found: list[str], report: TableReport) -> None:
    missing_required = [c for c in table.required_columns if c not in found]
    if missing_required:
        raise LandingError(
            f"{path}: missing required column(s) {missing_required} for {table.name}. "
            f"Found: {found}. Expected the contract's columns: {list(table.columns)}."
        )
    report.missing_columns.update(c for c in table.columns if c not in found)
    report.extra_columns.update(c for c in found if c not in table.columns)


def _reject(table: LandingTable, path: str, line_number: int, error_type: str, message: str, raw: str):
    return (table.source, table.table, path, line_number, error_type, message, raw)


def _count_data_lines(path: Path) -> int:
    try:
        return csv_lines.count_data_lines(path)
    except (OSError, EOFError) as error:
        raise LandingError(f"{path}: cannot be read: {error}") from error


def _continuation_lines(path: Path, scan: CsvScan) -> int:
    """Line breaks inside the values the engine parsed: each is one more physical line of its row."""
    if csv_lines.line_terminator(path) == b"\r":
        return scan.carriage_returns_in_values
    return scan.newlines_in_values


def _read_csv(reader: LandingReader, table, files, report, rejects, workdir: Path) -> list[Rows]:
    """Every CSV file proven whole: read in place when the engine's scan balances with its data
    lines counted without a parser, else line by line."""
    by_header: dict[tuple[tuple[str, ...], str], list[Path]] = defaultdict(list)
    for f in files:
        header, delimiter = read_csv_header(f.path)
        check_columns(f.path, table, header, report)
        by_header[(tuple(header), delimiter)].append(f.path)
    parts = []
    for (header, delimiter), paths in by_header.items():
        scans = reader.scan_csv(paths, list(header), delimiter)
        in_place = []
        for path in paths:
            data_lines = _count_data_lines(path)
            scan = scans[str(path)]
            continuation = _continuation_lines(path, scan)
            if not scan.rejected and scan.rows + continuation == data_lines:
                in_place.append(path)
                report.account(path, FileAccount(data_lines, scan.rows, 0, continuation, reader.read_by))
            else:
                line_read = _read_line_by_line(
                    reader, table, path, list(header), delimiter, data_lines, report, rejects, workdir
                )
                if line_read is not None:
                    parts.append(line_read)
        if in_place:
            parts.append(reader.csv_in_place(table, in_place, list(header), delimiter))
    if report.files_read_line_by_line:
        stored = reader.line_read_rows(table)
        if stored is not None:
            parts.append(stored)
    return parts


def _read_line_by_line(reader, table, path, header, delimiter, data_lines, report, rejects, workdir):
    """Read one file with csv_lines, hand its accepted records to the engine, and prove the account."""
    accepted = workdir / f"{table.identifier}_{len(report.accounts)}.csv"
    try:
        with open(accepted, "wb") as sink:
            result = csv_lines.split_csv_by_line(path, delimiter, header, sink)
    except (OSError, EOFError) as error:
        raise LandingError(f"{path}: cannot be read: {error}") from error
    loaded = reader.accepted_lines(table, path, accepted, header, delimiter)
    continuation = len(result.continuation_line_numbers)
    if loaded.parsed + len(result.rejected) + continuation != data_lines:
        raise LandingError(_unbalanced(path, data_lines, loaded, result))
    for line in result.rejected:
        rejects.append(
            _reject(table, str(path), line.line_number, line.error_type, line.message, line.raw_line)
        )
    report.account(
        path, FileAccount(data_lines, loaded.parsed, len(result.rejected), continuation, READ_LINE_BY_LINE)
    )
    return loaded.rows


def _unbalanced(path: Path, data_lines: int, loaded: LineRead, result) -> str:
    """The failure message for a file whose lines are not each accounted for exactly once, naming the
    lines involved."""
    claimed = Counter(
        loaded.parsed_line_numbers()
        + [line.line_number for line in result.rejected]
        + result.continuation_line_numbers
    )
    expected = set(csv_lines.data_line_numbers(path))
    involved = sorted((expected ^ set(claimed)) | {n for n, times in claimed.items() if times > 1})
    accounted = loaded.parsed + len(result.rejected) + len(result.continuation_line_numbers)
    return (
        f"{path}: {data_lines} data lines (non-blank lines after the header), but {loaded.parsed} rows "
        f"parsed + {len(result.rejected)} lines rejected + {len(result.continuation_line_numbers)} lines "
        f"continuing a quoted value account for {accounted}; line(s) {involved[:20]} are not accounted for "
        "exactly once. This is a bug in the landing step: please report it with the file."
    )


def _read_parquet(reader: LandingReader, table, files, report) -> list[Rows]:
    names: dict[str, str] = {}
    for f in files:
        found = reader.parquet_columns(f.path)
        check_columns(f.path, table, [n.strip().lower() for n in found], report)
        names.update({n.strip().lower(): n for n in found})
    present = {c: name for c, name in names.items() if c in table.columns}
    rows_by_file, rows = reader.parquet_rows(table, [f.path for f in files], present)
    for f in files:
        report.account(f.path, FileAccount(None, rows_by_file.get(str(f.path), 0), 0, 0, reader.read_by))
    return [rows]


def _read_jsonl(reader: LandingReader, table, files, report, rejects) -> list[Rows]:
    """A line that is not a JSON object is rejected; every other non-blank line is a row."""
    scan, rows = reader.jsonl(table, [f.path for f in files])
    for f in files:
        check_columns(f.path, table, scan.keys_by_file.get(str(f.path), []), report)
    for path, line_number, raw in scan.bad_lines:
        rejects.append(_reject(table, path, line_number, "INVALID JSON", "not a JSON object", raw))
    rejected_by_file = Counter(path for path, _, _ in scan.bad_lines)
    for f in files:
        parsed = scan.parsed_by_file.get(str(f.path), 0)
        rejected = rejected_by_file.get(str(f.path), 0)
        report.account(f.path, FileAccount(parsed + rejected, parsed, rejected, 0, reader.read_by))
    return [rows]


def read_landing(
    reader: LandingReader, landing_dir: Path, tables: list[LandingTable] | None, workdir: Path
) -> tuple[LandingReport, dict[LandingTable, list[Rows]], list[tuple]]:
    """The report, every table's rows (one part per way of reading) and the rejected lines.

    Raises LandingError, naming every problem at once, when a required table has no files or a
    file cannot serve its table (a required column missing from its header, unreadable content).
    """
    tables = tables or load_contract()
    landing_dir = landing_dir.resolve()
    fingerprint, by_source = landing_fingerprints(landing_dir)
    problems: list[str] = []
    reports: list[TableReport] = []
    rejects: list[tuple] = []
    parts: dict[LandingTable, list[Rows]] = {}
    for table in tables:
        report = TableReport(table, discover_files(landing_dir, table))
        reports.append(report)
        if not report.present:
            if table.required:
                problems.append(
                    f"{table.name}: required, but no files found under {landing_dir / table.source} "
                    f"(expected {table.table}.csv|.parquet|.jsonl, {table.table}_*.<ext> "
                    f"or {table.table}/*.<ext>)."
                )
            parts[table] = [reader.empty(table)]
            continue
        by_format: dict[str, list[LandingFile]] = defaultdict(list)
        for f in report.files:
            by_format[f.format].append(f)
        try:
            found = []
            if by_format["csv"]:
                found += _read_csv(reader, table, by_format["csv"], report, rejects, workdir)
            if by_format["parquet"]:
                found += _read_parquet(reader, table, by_format["parquet"], report)
            if by_format["jsonl"]:
                found += _read_jsonl(reader, table, by_format["jsonl"], report, rejects)
        except LandingError as error:
            problems.append(str(error))
            continue
        parts[table] = found
    if problems:
        raise LandingError("The landing files break the raw-data contract:\n- " + "\n- ".join(problems))
    claimed = {f.path for r in reports for f in r.files}
    return (
        LandingReport(landing_dir, reports, unclaimed_files(landing_dir, claimed), fingerprint, by_source),
        parts,
        rejects,
    )
