"""Register the landing files as views in the warehouse, so dbt reads them in place.

For every contract table this creates `landing.<source>__<table>`: all contract columns as text
plus `_landing_file` and `_landing_row` (position in its file), over every CSV / Parquet /
JSON-lines file of that table. A CSV or JSON line that cannot be parsed is not dropped: it is
recorded in `landing.rejected_lines` (and staging quarantines it), and `landing.landing_files`
lists every file with its parsed and rejected counts, which the reconciliation model balances
against staging.

What to read, which columns a file must carry and how every line is accounted for is decided in
landing/core.py, for DuckDB and Spark (landing/spark.py) alike; this module reads and counts with
DuckDB and writes the views. Every CSV file is proven whole: its non-blank lines after the
header, counted without any CSV parser, must equal rows parsed + lines rejected + lines that
continue a quoted multi-line value.
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

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from landing.audit import audit_tables, file_account_rows
from landing.contract import LandingTable
from landing.core import (
    LINE_NUMBER_COLUMN,
    CsvScan,
    FileAccount,
    JsonlScan,
    LandingReport,
    LineRead,
    TableReport,
    read_landing,
)
from landing.files import LandingError
from warehouse.context import connect, engine

__all__ = ["FileAccount", "LandingReport", "TableReport", "file_account_rows", "register_landing"]

JSON_LINE_DELIMITER = chr(30)  # a control character valid JSON never holds raw: one line = one value
LINE_READ_SUFFIX = "__read_line_by_line"
DUCKDB_TYPES = {"text": "varchar", "integer": "bigint", "timestamp": "timestamp"}


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
    """Every non-blank line of the files, with its line number in its file (_by_file)."""

    def lines_of(path: Path) -> str:
        reader = (
            f"read_csv({_sql_string(path)}, columns={{'json_line': 'VARCHAR'}}, header=false, "
            f"auto_detect=false, delim={_sql_string(JSON_LINE_DELIMITER)}, quote='', escape='')"
        )
        return (
            f"select json_line, {_sql_string(path)} as filename, "
            "row_number() over (order by line_ordinal) as _landing_row "
            f"from (select json_line, row_number() over () as line_ordinal from {reader}) "
            "where trim(coalesce(json_line, '')) <> ''"
        )

    return f"({_by_file(paths, lines_of)})"


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


def _by_file(paths: list[Path], select_of_file) -> str:
    """One select per file (`select_of_file(path)`), joined by union all. Each names its file as a
    constant, so that a filter on the file (an incremental build reads only the files it has not
    parsed) drops the other files before they are read: one reader over all the files, numbered by
    a window, read every file whatever the filter. Each file's rows are numbered in that file
    (`_landing_row`, DuckDB preserves insertion order), as on Spark: a position across all files
    would renumber every file that sorts after one that lands later, and an incremental build,
    which keeps what it parsed, would then differ from a full build."""
    return "\nunion all\n".join(select_of_file(path) for path in paths)


def _duckdb_message(error: Exception) -> str:
    return str(error).strip().splitlines()[0]


def _scan_with_duckdb(paths: list[Path], header: list[str], delimiter: str) -> dict[str, CsvScan]:
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
    scans = {str(path): CsvScan(rejected=str(path) in rejected) for path in paths}
    for path, rows, newlines, carriage_returns in parsed:
        scans[path] = CsvScan(rows, newlines, carriage_returns, path in rejected)
    return scans


def _scan_each_with_duckdb(paths: list[Path], header: list[str], delimiter: str) -> dict[str, CsvScan]:
    """Scan the files together, or one by one when DuckDB cannot read them together, so that a file
    DuckDB fails on is marked for the line reader rather than failing its neighbours."""
    try:
        return _scan_with_duckdb(paths, header, delimiter)
    except duckdb.Error:
        if len(paths) == 1:
            return {str(paths[0]): CsvScan(rejected=True)}
    return {
        name: scan
        for path in paths
        for name, scan in _scan_each_with_duckdb([path], header, delimiter).items()
    }


def _line_read_table(table: LandingTable) -> str:
    return _identifier(f"aw_line_read_{table.identifier}")


def _stored_line_reads(table: LandingTable) -> str:
    return f"{_identifier(table.schema)}.{_identifier(table.identifier + LINE_READ_SUFFIX)}"


class DuckdbReader:
    """The landing step's reads on DuckDB: every table's rows are SQL selects over the files in
    place, plus the rows of files read line by line, kept in a temporary table until _write."""

    read_by = "duckdb"

    def __init__(self, con) -> None:
        self.con = con

    def scan_csv(self, paths: list[Path], header: list[str], delimiter: str) -> dict[str, CsvScan]:
        return _scan_each_with_duckdb(paths, header, delimiter)

    def csv_in_place(self, table: LandingTable, paths: list[Path], header: list[str], delimiter: str) -> str:
        present = set(header) & set(table.columns)

        def rows_of(path: Path) -> str:
            projection = _projection(table, present, _identifier, landing_file=_sql_string(path))
            reader = _csv_reader([path], header, delimiter)
            return f"select {projection}, row_number() over () as _landing_row from {reader}"

        return _by_file(paths, rows_of)

    def accepted_lines(
        self, table: LandingTable, path: Path, accepted: Path, header: list[str], delimiter: str
    ) -> LineRead:
        staging = _line_read_table(table)
        columns = ", ".join(f"{_identifier(c)} varchar" for c in table.columns)
        self.con.execute(
            f"create temp table if not exists {staging} "
            f"({columns}, _landing_file varchar, _landing_row bigint)"
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
            parsed = self.con.execute(
                f"insert into {staging} by name select {', '.join(present)}, "
                f"{_sql_string(path)} as _landing_file, cast({LINE_NUMBER_COLUMN} as bigint) as _landing_row "
                f"from {reader}"
            ).fetchone()[0]
        except duckdb.Error as error:
            raise LandingError(
                f"{path}: DuckDB could not parse the lines the line-by-line reader accepted "
                f"({_duckdb_message(error)}); this is a bug in the landing step, "
                "please report it with the file."
            ) from error

        def parsed_line_numbers() -> list[int]:
            query = f"select _landing_row from {staging} where _landing_file = ?"
            return [n for (n,) in self.con.execute(query, [str(path)]).fetchall()]

        return LineRead(None, parsed, parsed_line_numbers)

    def line_read_rows(self, table: LandingTable) -> str:
        projection = _projection(table, set(table.columns), _identifier, landing_file="_landing_file")
        return f"select {projection}, _landing_row from {_stored_line_reads(table)}"

    def parquet_columns(self, path: Path) -> list[str]:
        try:
            query = f"describe select * from read_parquet({_sql_string(path)})"
            return [row[0] for row in self.con.execute(query).fetchall()]
        except duckdb.Error as error:
            raise LandingError(f"{path}: cannot be read as Parquet: {_duckdb_message(error)}") from error

    def parquet_rows(
        self, table: LandingTable, paths: list[Path], names: dict[str, str]
    ) -> tuple[dict[str, int], str]:
        reader = f"read_parquet({_sql_list(paths)}, union_by_name=true, filename=true)"
        rows_by_file = dict(
            self.con.execute(f"select filename, count(*) from {reader} group by 1").fetchall()
        )
        numbered = (
            f"read_parquet({_sql_list(paths)}, union_by_name=true, filename=true, file_row_number=true)"
        )
        projection = _projection(table, set(names), lambda c: _identifier(names[c]))
        return rows_by_file, f"select {projection}, file_row_number + 1 as _landing_row from {numbered}"

    def jsonl(self, table: LandingTable, paths: list[Path]) -> tuple[JsonlScan, str]:
        """One pass over the lines for every file's object keys, objects and other lines (three
        passes took 12.6 s of the 16.6 s landing step at 100k contacts). The keys are gathered as
        the distinct key lists of each file, which are few: most lines share theirs. Keys are asked
        of objects only (guarded: DuckDB may evaluate an aggregate's argument before its filter, and
        json_keys fails on a line that is not JSON, which failed the whole landing step)."""
        lines = _jsonl_lines(paths)
        # Guarded: DuckDB may evaluate json_type before json_valid in a conjunction.
        is_object = "case when json_valid(json_line) then json_type(json_line) = 'OBJECT' end"
        try:
            by_file = self.con.execute(
                "select filename, count(*) filter (where is_object), "
                "list(distinct case when is_object then json_keys(json_line) end) filter (where is_object), "
                "list([cast(_landing_row as varchar), json_line]) "
                "filter (where not coalesce(is_object, false)) "
                f"from (select filename, _landing_row, json_line, {is_object} as is_object from {lines}) "
                "group by filename"
            ).fetchall()
        except duckdb.Error as error:
            raise LandingError(_unreadable_jsonl(self.con, paths, error)) from error
        keys = {
            path: sorted({key.strip().lower() for found in key_lists or [] for key in found})
            for path, _, key_lists, _ in by_file
        }
        bad = sorted((path, int(line), raw) for path, _, _, others in by_file for line, raw in others or [])
        parsed_by_file = {path: parsed for path, parsed, _, _ in by_file if parsed}
        projection = _projection(table, set(table.columns), _json_field)
        rows = f"select {projection}, _landing_row from {lines} where {is_object}"
        return JsonlScan(keys, bad, parsed_by_file), rows

    def empty(self, table: LandingTable) -> str:
        columns = ", ".join(f"cast(null as varchar) as {_identifier(c)}" for c in table.columns)
        lineage = "cast(null as varchar) as _landing_file, cast(null as bigint) as _landing_row"
        return f"select {columns}, {lineage} where false"


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


def register_landing(
    warehouse_path: Path, landing_dir: Path, tables: list[LandingTable] | None = None
) -> LandingReport:
    """Validate every landing file against the contract and (re)create the landing views.

    Raises LandingError, naming every problem at once, when a required table has no files or a
    file cannot serve its table (a required column missing from its header, unreadable content).
    Idempotent: the same files give the same views and audit rows.
    """
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with connect(Path(warehouse_path)) as con, tempfile.TemporaryDirectory() as workdir:
        report, parts, rejects = read_landing(DuckdbReader(con), landing_dir, tables, Path(workdir))
        view_sql = {table: "\nunion all\n".join(selects) for table, selects in parts.items()}
        _write(con, report, view_sql, rejects)
    return report


def _write(con, report: LandingReport, view_sql: dict[LandingTable, str], rejects: list[tuple]) -> None:
    """Swap in the views, the rows read line by line and the audit tables in one transaction."""
    registered_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute("begin transaction")
    try:
        for schema in sorted({t.schema for t in view_sql}):
            con.execute(f"create schema if not exists {_identifier(schema)}")
        for table_report in report.tables:
            if table_report.files_read_line_by_line:
                stored, staged = _stored_line_reads(table_report.table), _line_read_table(table_report.table)
                con.execute(f"create or replace table {stored} as select * from {staged}")
        for table, sql in view_sql.items():
            view = f"{_identifier(table.schema)}.{_identifier(table.identifier)}"
            con.execute(f"create or replace view {view} as\n{sql}")
        for table_report in report.tables:
            if not table_report.files_read_line_by_line:
                con.execute(f"drop table if exists {_stored_line_reads(table_report.table)}")
        for name, columns, rows in audit_tables(report, rejects, registered_at):
            definition = ", ".join(f"{column} {DUCKDB_TYPES[kind]}" for column, kind in columns)
            con.execute(f"create or replace table landing.{name} ({definition})")
            if rows:
                placeholders = ", ".join("?" for _ in columns)
                con.executemany(f"insert into landing.{name} values ({placeholders})", rows)
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
