"""Register the landing files as views in the warehouse, so dbt reads them in place.

For every contract table this creates `landing.<source>__<table>`: all contract columns as text
plus `_landing_file` and `_landing_row` (position in file order), over every CSV / Parquet /
JSON-lines file of that table. A CSV or JSON line that cannot be parsed is not dropped: it is
recorded in `landing.rejected_lines` (and staging quarantines it), and `landing.landing_files`
lists every file with its parsed and rejected counts, which the reconciliation model balances
against staging.

Every CSV file is proven whole: its non-blank lines after the header, counted without any CSV
parser, must equal rows parsed + lines rejected + lines that continue a quoted multi-line value.
A clean file is read in place by DuckDB. A file with any line DuckDB rejects (or whose count does
not balance) is read line by line instead (`landing.csv_lines`), because DuckDB's own rejects are
not exact there: an unterminated quote swallows the valid rows after it, and a row with bytes that
are not UTF-8 is counted or not depending on the columns a query reads. Its rows are stored in
`landing.<source>__<table>__read_line_by_line`, which the view reads beside the files.

Why views written here rather than dbt-duckdb `external_location`: that location is fixed when dbt
parses the project, so it can neither union files of several formats, nor stand in an empty
relation for an absent optional source, nor capture malformed lines.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from landing import csv_lines
from landing.contract import LandingTable, load_contract
from landing.files import (
    LandingError,
    LandingFile,
    discover_files,
    landing_fingerprint,
    read_csv_header,
    unclaimed_files,
)
from warehouse.context import connect, engine

JSON_LINE_DELIMITER = chr(30)  # a control character valid JSON never holds raw: one line = one value
FILES_TABLE = "landing_files"
SNAPSHOT_TABLE = "landing_snapshot"
REJECTS_TABLE = "rejected_lines"
LINE_READ_SUFFIX = "__read_line_by_line"
LINE_NUMBER_COLUMN = "_aw_line_number"


@dataclass(frozen=True)
class FileAccount:
    """One file's rows as the landing step proved them. For CSV,
    data_lines = rows_parsed + lines_rejected + continuation_lines."""

    data_lines: int | None  # non-blank lines after the header (CSV), lines (JSON lines), None (Parquet)
    rows_parsed: int
    lines_rejected: int
    continuation_lines: int  # lines continuing a row whose quoted value spans several lines
    read_by: str  # duckdb (in place) or line_reader (csv_lines, rows stored in the warehouse)


@dataclass(frozen=True)
class _DuckdbScan:
    rows: int = 0
    newlines_in_values: int = 0
    carriage_returns_in_values: int = 0
    rejected: bool = False


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
        return [path for path, account in self.accounts.items() if account.read_by == "line_reader"]

    @property
    def present(self) -> bool:
        return bool(self.files)

    @property
    def fingerprint(self) -> str:
        """Changes whenever a file is added, removed or rewritten: the table's data version."""
        joined = "|".join(f.signature for f in self.files) or "absent"
        return hashlib.sha256(joined.encode()).hexdigest()[:16]


@dataclass
class LandingReport:
    landing_dir: Path
    tables: list[TableReport]
    unclaimed: list[Path]
    # landing_fingerprint() of the folder when the step started: what a later run compares against
    # to tell whether these files were already processed.
    fingerprint: str = ""

    def table(self, name: str) -> TableReport:
        return next(t for t in self.tables if t.table.name == name)


def _sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_sql_string(p) for p in paths) + "]"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_reader(paths: list[Path], header: list[str], delimiter: str, options: str = "") -> str:
    """DuckDB's reader in the landing dialect; strict unless `options` say otherwise, so that a file
    changed behind the landing step's back fails loudly instead of losing rows."""
    columns = "{" + ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in header) + "}"
    return (
        f"read_csv({_sql_list(paths)}, columns={columns}, header=true, auto_detect=false, "
        f"delim={_sql_string(delimiter)}, quote='\"', escape='\"', filename=true{options})"
    )


def _jsonl_lines(paths: list[Path]) -> str:
    """Every non-blank line of the files, with its line number in its file."""
    reader = (
        f"read_csv({_sql_list(paths)}, columns={{'json_line': 'VARCHAR'}}, header=false, auto_detect=false, "
        f"delim={_sql_string(JSON_LINE_DELIMITER)}, quote='', escape='', filename=true)"
    )
    return (
        f"(select json_line, filename, row_number() over (partition by filename order by line_ordinal) "
        f"as _landing_row from (select *, row_number() over () as line_ordinal from {reader}) "
        "where trim(coalesce(json_line, '')) <> '')"
    )


def _json_field(column: str) -> str:
    # Guarded: DuckDB may evaluate a projection before the view's json_valid filter.
    path = _sql_string("$." + _identifier(column))
    return f"case when json_valid(json_line) then json_extract_string(json_line, {path}) end"


def _projection(table: LandingTable, present: set[str], expression, landing_file: str = "filename") -> str:
    parts = [
        f"nullif(cast({expression(c)} as varchar), '') as {_identifier(c)}"
        if c in present
        else f"cast(null as varchar) as {_identifier(c)}"
        for c in table.columns
    ]
    parts.append(f"{landing_file} as _landing_file")
    return ", ".join(parts)


def _numbered(reader: str, row_number: str = "row_number() over ()") -> str:
    """The reader's rows with `_landing_row`: their position in file order (DuckDB preserves
    insertion order), so that "the later row of a file wins" can be applied downstream."""
    return f"(select *, {row_number} as _landing_row from {reader})"


def _check_columns(path: Path, table: LandingTable, found: list[str], report: TableReport) -> None:
    missing_required = [c for c in table.required_columns if c not in found]
    if missing_required:
        raise LandingError(
            f"{path}: missing required column(s) {missing_required} for {table.name}. "
            f"Found: {found}. Expected the contract's columns: {list(table.columns)}."
        )
    report.missing_columns.update(c for c in table.columns if c not in found)
    report.extra_columns.update(c for c in found if c not in table.columns)


def _duckdb_message(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _scan_with_duckdb(paths: list[Path], header: list[str], delimiter: str) -> dict[str, _DuckdbScan]:
    """Per file: rows DuckDB parses, newlines inside their values, and whether it rejected any line.
    Every column is read, so that a row with an undecodable value cannot pass uncounted. Runs in a
    throwaway in-memory database: a DuckDB internal error there cannot invalidate the warehouse."""
    values = [_identifier(c) for c in header]
    spans_lines = " or ".join(f"contains({v}, chr(10)) or contains({v}, chr(13))" for v in values)

    def occurrences(character: str) -> str:
        counts = " + ".join(
            f"coalesce(strlen({v}) - strlen(replace({v}, {character}, '')), 0)" for v in values
        )
        return f"coalesce(sum(case when _spans_lines then {counts} end), 0)"

    options = ", store_rejects=true, rejects_table='aw_rejects', rejects_scan='aw_scans'"
    scan = _csv_reader(paths, header, delimiter, options)
    with duckdb.connect() as scratch:
        parsed = scratch.execute(
            f"select filename, count(*), {occurrences('chr(10)')}, {occurrences('chr(13)')} "
            f"from (select *, {spans_lines} as _spans_lines from {scan}) group by 1"
        ).fetchall()
        rejected = {
            path
            for (path,) in scratch.execute(
                "select distinct s.file_path from aw_rejects e join aw_scans s using (scan_id, file_id)"
            ).fetchall()
        }
    scans = {str(path): _DuckdbScan(rejected=str(path) in rejected) for path in paths}
    for path, rows, newlines, carriage_returns in parsed:
        scans[path] = _DuckdbScan(rows, newlines, carriage_returns, path in rejected)
    return scans


def _scan_each_with_duckdb(paths: list[Path], header: list[str], delimiter: str) -> dict[str, _DuckdbScan]:
    """Scan the files together, or one by one when DuckDB cannot read them together, so that a file
    DuckDB fails on is marked for the line reader rather than failing its neighbours."""
    try:
        return _scan_with_duckdb(paths, header, delimiter)
    except duckdb.Error:
        if len(paths) == 1:
            return {str(paths[0]): _DuckdbScan(rejected=True)}
    return {
        name: scan
        for path in paths
        for name, scan in _scan_each_with_duckdb([path], header, delimiter).items()
    }


def _continuation_lines(path: Path, scan: _DuckdbScan) -> int:
    """Line breaks inside the values DuckDB parsed: each is one more physical line of its row."""
    if csv_lines.line_terminator(path) == b"\r":
        return scan.carriage_returns_in_values
    return scan.newlines_in_values


def _line_read_table(table: LandingTable) -> str:
    return _identifier(f"aw_line_read_{table.identifier}")


def _read_line_by_line(con, table, path, header, delimiter, data_lines, report, rejects, workdir) -> None:
    """Read one file with csv_lines, hand its accepted records to DuckDB, and prove the account."""
    accepted = workdir / f"{len(report.accounts)}.csv"
    try:
        with open(accepted, "wb") as sink:
            result = csv_lines.split_csv_by_line(path, delimiter, header, sink)
    except (OSError, EOFError) as error:
        raise LandingError(f"{path}: cannot be read: {error}") from error
    staging = _line_read_table(table)
    columns = ", ".join(f"{_identifier(c)} varchar" for c in table.columns)
    con.execute(
        f"create temp table if not exists {staging} ({columns}, _landing_file varchar, _landing_row bigint)"
    )
    reader_columns = (
        "{" + ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in [LINE_NUMBER_COLUMN, *header]) + "}"
    )
    reader = (
        f"read_csv({_sql_string(accepted)}, columns={reader_columns}, header=false, auto_detect=false, "
        f"delim={_sql_string(delimiter)}, quote='\"', escape='\"')"
    )
    present = [_identifier(c) for c in header if c in table.columns]
    try:
        parsed = con.execute(
            f"insert into {staging} by name select {', '.join(present)}, "
            f"{_sql_string(path)} as _landing_file, cast({LINE_NUMBER_COLUMN} as bigint) as _landing_row "
            f"from {reader}"
        ).fetchone()[0]
    except duckdb.Error as error:
        raise LandingError(
            f"{path}: DuckDB could not parse the lines the line-by-line reader accepted "
            f"({_duckdb_message(error)}); this is a bug in the landing step, please report it with the file."
        ) from error
    continuation = len(result.continuation_line_numbers)
    if parsed + len(result.rejected) + continuation != data_lines:
        raise LandingError(_unbalanced(con, staging, path, data_lines, parsed, result))
    for line in result.rejected:
        rejects.append(
            (
                table.source,
                table.table,
                str(path),
                line.line_number,
                line.error_type,
                line.message,
                line.raw_line,
            )
        )
    report.rows_parsed += parsed
    report.rows_rejected += len(result.rejected)
    report.accounts[path] = FileAccount(data_lines, parsed, len(result.rejected), continuation, "line_reader")


def _unbalanced(con, staging: str, path: Path, data_lines: int, parsed: int, result) -> str:
    """The failure message for a file whose lines are not each accounted for exactly once, naming the
    lines involved."""
    parsed_lines = [
        n
        for (n,) in con.execute(
            f"select _landing_row from {staging} where _landing_file = ?", [str(path)]
        ).fetchall()
    ]
    claimed = Counter(
        parsed_lines + [line.line_number for line in result.rejected] + result.continuation_line_numbers
    )
    expected = set(csv_lines.data_line_numbers(path))
    involved = sorted((expected ^ set(claimed)) | {n for n, times in claimed.items() if times > 1})
    accounted = parsed + len(result.rejected) + len(result.continuation_line_numbers)
    return (
        f"{path}: {data_lines} data lines (non-blank lines after the header), but {parsed} rows parsed + "
        f"{len(result.rejected)} lines rejected + {len(result.continuation_line_numbers)} lines continuing "
        f"a quoted value account for {accounted}; line(s) {involved[:20]} are not accounted for exactly "
        "once. This is a bug in the landing step: please report it with the file."
    )


def _register_csv(con, table, files, report, rejects, workdir) -> list[str]:
    by_header: dict[tuple[tuple[str, ...], str], list[Path]] = defaultdict(list)
    for f in files:
        header, delimiter = read_csv_header(f.path)
        _check_columns(f.path, table, header, report)
        by_header[(tuple(header), delimiter)].append(f.path)
    selects = []
    for (header, delimiter), paths in by_header.items():
        scans = _scan_each_with_duckdb(paths, list(header), delimiter)
        read_in_place = []
        for path in paths:
            try:
                data_lines = csv_lines.count_data_lines(path)
            except (OSError, EOFError) as error:
                raise LandingError(f"{path}: cannot be read: {error}") from error
            scan = scans[str(path)]
            continuation = _continuation_lines(path, scan)
            if not scan.rejected and scan.rows + continuation == data_lines:
                read_in_place.append(path)
                report.rows_parsed += scan.rows
                report.accounts[path] = FileAccount(data_lines, scan.rows, 0, continuation, "duckdb")
            else:
                _read_line_by_line(
                    con, table, path, list(header), delimiter, data_lines, report, rejects, workdir
                )
        if read_in_place:
            present = set(header) & set(table.columns)
            reader = _numbered(_csv_reader(read_in_place, list(header), delimiter))
            selects.append(f"select {_projection(table, present, _identifier)}, _landing_row from {reader}")
    if report.files_read_line_by_line:
        stored = f"{_identifier(table.schema)}.{_identifier(table.identifier + LINE_READ_SUFFIX)}"
        projection = _projection(table, set(table.columns), _identifier, landing_file="_landing_file")
        selects.append(f"select {projection}, _landing_row from {stored}")
    return selects


def _register_parquet(con, table, files, report) -> list[str]:
    paths = [f.path for f in files]
    reader = f"read_parquet({_sql_list(paths)}, union_by_name=true, filename=true)"
    for f in files:
        try:
            found = [
                row[0].strip().lower()
                for row in con.execute(
                    f"describe select * from read_parquet({_sql_string(f.path)})"
                ).fetchall()
            ]
        except duckdb.Error as error:
            raise LandingError(f"{f.path}: cannot be read as Parquet: {_duckdb_message(error)}") from error
        _check_columns(f.path, table, found, report)
    actual = {
        row[0].strip().lower(): row[0] for row in con.execute(f"describe select * from {reader}").fetchall()
    }
    rows_by_file = dict(con.execute(f"select filename, count(*) from {reader} group by 1").fetchall())
    for f in files:
        rows = rows_by_file.get(str(f.path), 0)
        report.rows_parsed += rows
        report.accounts[f.path] = FileAccount(None, rows, 0, 0, "duckdb")
    present = set(actual) & set(table.columns)
    numbered = f"read_parquet({_sql_list(paths)}, union_by_name=true, filename=true, file_row_number=true)"
    projection = _projection(table, present, lambda c: _identifier(actual[c]))
    return [f"select {projection}, file_row_number + 1 as _landing_row from {numbered}"]


def _register_jsonl(con, table, files, report, rejects) -> list[str]:
    paths = [f.path for f in files]
    lines = _jsonl_lines(paths)
    is_object = "(json_valid(json_line) and json_type(json_line) = 'OBJECT')"
    try:
        keys_by_file = con.execute(
            f"select filename, list(distinct k) from (select filename, unnest(json_keys(json_line)) as k "
            f"from {lines} where case when json_valid(json_line) then json_type(json_line) = 'OBJECT' end) "
            "group by 1"
        ).fetchall()
        bad = con.execute(
            f"select filename, _landing_row, json_line from {lines} "
            f"where not coalesce(case when json_valid(json_line) then {is_object} end, false)"
        ).fetchall()
        parsed_by_file = dict(
            con.execute(
                f"select filename, count(*) from {lines} "
                f"where case when json_valid(json_line) then {is_object} end group by 1"
            ).fetchall()
        )
    except duckdb.Error as error:
        raise LandingError(_unreadable_jsonl(con, paths, error)) from error
    keys = {path: [k.strip().lower() for k in found] for path, found in keys_by_file}
    for f in files:
        _check_columns(f.path, table, keys.get(str(f.path), []), report)
    for path, line_number, raw in bad:
        rejects.append(
            (table.source, table.table, path, line_number, "INVALID JSON", "not a JSON object", raw)
        )
    report.rows_rejected += len(bad)
    rejected_by_file = Counter(path for path, _, _ in bad)
    for f in files:
        parsed, rejected = parsed_by_file.get(str(f.path), 0), rejected_by_file.get(str(f.path), 0)
        report.rows_parsed += parsed
        report.accounts[f.path] = FileAccount(parsed + rejected, parsed, rejected, 0, "duckdb")
    projection = _projection(table, set(table.columns), _json_field)
    parsed = f"case when json_valid(json_line) then {is_object} end"
    return [f"select {projection}, _landing_row from {lines} where {parsed}"]


def _unreadable_jsonl(con, paths: list[Path], error: duckdb.Error) -> str:
    """Name the file DuckDB fails on (not merely the table's first file), the line and the reason."""
    for path in paths:
        try:
            con.execute(f"select count(json_line) from {_jsonl_lines([path])}").fetchall()
        except duckdb.Error as file_error:
            error = file_error
            break
    else:
        path = paths[0]
    reason = "; the line is not UTF-8 text" if "not utf-8 encoded" in str(error).lower() else ""
    return f"{path}: cannot be read as JSON lines: {_duckdb_message(error)}{reason}"


def _empty_view(table: LandingTable) -> str:
    columns = ", ".join(f"cast(null as varchar) as {_identifier(c)}" for c in table.columns)
    lineage = "cast(null as varchar) as _landing_file, cast(null as bigint) as _landing_row"
    return f"select {columns}, {lineage} where false"


def register_landing(
    warehouse_path: Path, landing_dir: Path, tables: list[LandingTable] | None = None
) -> LandingReport:
    """Validate every landing file against the contract and (re)create the landing views.

    Raises LandingError, naming every problem at once, when a required table has no files or a
    file cannot serve its table (a required column missing from its header, unreadable content).
    Idempotent: the same files give the same views and audit rows.
    """
    tables = tables or load_contract()
    landing_dir = landing_dir.resolve()
    fingerprint = landing_fingerprint(landing_dir)
    problems: list[str] = []
    reports: list[TableReport] = []
    rejects: list[tuple] = []
    view_sql: dict[LandingTable, str] = {}
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with connect(Path(warehouse_path)) as con, tempfile.TemporaryDirectory() as workdir:
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
                view_sql[table] = _empty_view(table)
                continue
            by_format: dict[str, list[LandingFile]] = defaultdict(list)
            for f in report.files:
                by_format[f.format].append(f)
            try:
                selects = []
                if by_format["csv"]:
                    selects += _register_csv(con, table, by_format["csv"], report, rejects, Path(workdir))
                if by_format["parquet"]:
                    selects += _register_parquet(con, table, by_format["parquet"], report)
                if by_format["jsonl"]:
                    selects += _register_jsonl(con, table, by_format["jsonl"], report, rejects)
            except LandingError as error:
                problems.append(str(error))
                continue
            view_sql[table] = "\nunion all\n".join(selects)
        if problems:
            raise LandingError("The landing files break the raw-data contract:\n- " + "\n- ".join(problems))
        claimed = {f.path for r in reports for f in r.files}
        report = LandingReport(landing_dir, reports, unclaimed_files(landing_dir, claimed), fingerprint)
        _write(con, report, view_sql, rejects)
    return report


def file_account_rows(report: LandingReport, registered_at: datetime) -> list[tuple]:
    """One row of landing.landing_files per file read: where it is, what it is, and its account
    (data lines, rows parsed, lines rejected, how it was read), the same on every engine."""
    return [
        (
            table_report.table.source,
            table_report.table.table,
            str(f.path),
            f.format,
            f.size_bytes,
            datetime.fromtimestamp(f.modified_ns / 1e9, UTC).replace(tzinfo=None),
            f.signature,
            table_report.accounts[f.path].data_lines,
            table_report.accounts[f.path].rows_parsed,
            table_report.accounts[f.path].lines_rejected,
            table_report.accounts[f.path].continuation_lines,
            table_report.accounts[f.path].read_by,
            registered_at,
        )
        for table_report in report.tables
        for f in table_report.files
    ]


def _write(con, report: LandingReport, view_sql: dict[LandingTable, str], rejects: list[tuple]) -> None:
    """Swap in the views, the rows read line by line and the audit tables in one transaction."""
    registered_at = datetime.now(UTC).replace(tzinfo=None)
    file_rows = file_account_rows(report, registered_at)
    schemas = sorted({t.schema for t in view_sql})
    con.execute("begin transaction")
    try:
        for schema in schemas:
            con.execute(f"create schema if not exists {_identifier(schema)}")
        for table_report in report.tables:
            if table_report.files_read_line_by_line:
                table = table_report.table
                stored = f"{_identifier(table.schema)}.{_identifier(table.identifier + LINE_READ_SUFFIX)}"
                con.execute(f"create or replace table {stored} as select * from {_line_read_table(table)}")
        for table, sql in view_sql.items():
            view = f"{_identifier(table.schema)}.{_identifier(table.identifier)}"
            con.execute(f"create or replace view {view} as\n{sql}")
        for table_report in report.tables:
            if not table_report.files_read_line_by_line:
                table = table_report.table
                stored = f"{_identifier(table.schema)}.{_identifier(table.identifier + LINE_READ_SUFFIX)}"
                con.execute(f"drop table if exists {stored}")
        con.execute(
            f"create or replace table landing.{FILES_TABLE} (source varchar, table_name varchar, "
            "file_path varchar, file_format varchar, size_bytes bigint, modified_at timestamp, "
            "file_signature varchar, data_lines bigint, rows_parsed bigint, lines_rejected bigint, "
            "continuation_lines bigint, read_by varchar, registered_at timestamp)"
        )
        if file_rows:
            con.executemany(
                f"insert into landing.{FILES_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", file_rows
            )
        con.execute(
            f"create or replace table landing.{REJECTS_TABLE} (source varchar, table_name varchar, "
            "file_path varchar, line_number bigint, error_type varchar, error_message varchar, "
            "raw_line varchar)"
        )
        if rejects:
            con.executemany(f"insert into landing.{REJECTS_TABLE} values (?, ?, ?, ?, ?, ?, ?)", rejects)
        con.execute(
            f"create or replace table landing.{SNAPSHOT_TABLE} as "
            "select ? as fingerprint, ? as landing_dir, ? as registered_at",
            [report.fingerprint, str(report.landing_dir), registered_at],
        )
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise


def register_for_engine(
    warehouse_path: Path, landing_dir: Path, tables: list[LandingTable] | None = None
) -> LandingReport:
    """register_landing on the engine AW_ENGINE names: the DuckDB file, or Spark's catalog."""
    if engine() == "spark":
        from landing.spark import register_landing_on_spark

        return register_landing_on_spark(landing_dir, tables)
    return register_landing(warehouse_path, landing_dir, tables)
