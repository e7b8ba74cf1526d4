"""Register the landing files as views in the warehouse, so dbt reads them in place.

For every contract table this creates `landing.<source>__<table>`: all contract columns as text
plus `_landing_file` and `_landing_row` (position in file order), over every CSV / Parquet /
JSON-lines file of that table. A CSV or JSON line that cannot be parsed is not dropped: it is
recorded in `landing.rejected_lines` (and staging quarantines it), and `landing.landing_files`
lists every file with its parsed and rejected counts, which the reconciliation model balances
against staging.

Why views written here rather than dbt-duckdb `external_location`: that location is fixed when dbt
parses the project, so it can neither union files of several formats, nor stand in an empty
relation for an absent optional source, nor capture malformed lines.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from landing.contract import LandingTable, load_contract
from landing.files import LandingError, LandingFile, discover_files, read_csv_header, unclaimed_files

JSON_LINE_DELIMITER = chr(30)  # a control character valid JSON never holds raw: one line = one value
FILES_TABLE = "landing_files"
REJECTS_TABLE = "rejected_lines"


@dataclass
class TableReport:
    """What the landing step found for one contract table."""

    table: LandingTable
    files: list[LandingFile] = field(default_factory=list)
    rows_parsed: int = 0
    rows_rejected: int = 0
    missing_columns: set[str] = field(default_factory=set)
    extra_columns: set[str] = field(default_factory=set)

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

    def table(self, name: str) -> TableReport:
        return next(t for t in self.tables if t.table.name == name)


def _sql_string(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_sql_string(p) for p in paths) + "]"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _csv_reader(paths: list[Path], header: list[str], delimiter: str, capture: bool) -> str:
    columns = "{" + ", ".join(f"{_sql_string(c)}: 'VARCHAR'" for c in header) + "}"
    options = (
        f"columns={columns}, header=true, auto_detect=false, delim={_sql_string(delimiter)}, "
        "quote='\"', escape='\"', filename=true, "
    )
    options += (
        "store_rejects=true, rejects_table='aw_rejects', rejects_scan='aw_scans'"
        if capture
        else "ignore_errors=true"
    )
    return f"read_csv({_sql_list(paths)}, {options})"


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


def _projection(table: LandingTable, present: set[str], expression) -> str:
    parts = [
        f"nullif(cast({expression(c)} as varchar), '') as {_identifier(c)}"
        if c in present
        else f"cast(null as varchar) as {_identifier(c)}"
        for c in table.columns
    ]
    parts.append("filename as _landing_file")
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


def _register_csv(con, table, files, report, rejects) -> list[str]:
    by_header: dict[tuple[tuple[str, ...], str], list[Path]] = defaultdict(list)
    for f in files:
        header, delimiter = read_csv_header(f.path)
        _check_columns(f.path, table, header, report)
        by_header[(tuple(header), delimiter)].append(f.path)
    selects = []
    for (header, delimiter), paths in by_header.items():
        try:
            con.execute("drop table if exists aw_rejects; drop table if exists aw_scans")
            scan = _csv_reader(paths, list(header), delimiter, capture=True)
            parsed = con.execute(f"select filename, count(*) from {scan} group by 1").fetchall()
            rejected = con.execute(
                # DuckDB logs one error per missing column; a rejected line is one row.
                "select s.file_path, e.line, min(e.error_type), min(e.error_message), min(e.csv_line) "
                "from aw_rejects e join aw_scans s using (scan_id, file_id) group by 1, 2 order by 1, 2"
            ).fetchall()
        except duckdb.Error as error:
            raise LandingError(f"{paths[0]}: cannot be read as CSV: {_duckdb_message(error)}") from error
        report.rows_parsed += sum(n for _, n in parsed)
        for path, line, error_type, message, raw in rejected:
            rejects.append((table.source, table.table, path, line, error_type, message, raw))
        report.rows_rejected += len(rejected)
        present = set(header) & set(table.columns)
        reader = _numbered(_csv_reader(paths, list(header), delimiter, False))
        selects.append(f"select {_projection(table, present, _identifier)}, _landing_row from {reader}")
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
    report.rows_parsed += con.execute(f"select count(*) from {reader}").fetchone()[0]
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
        report.rows_parsed += con.execute(
            f"select count(*) from {lines} where case when json_valid(json_line) then {is_object} end"
        ).fetchone()[0]
    except duckdb.Error as error:
        raise LandingError(f"{paths[0]}: cannot be read as JSON lines: {_duckdb_message(error)}") from error
    keys = {path: [k.strip().lower() for k in found] for path, found in keys_by_file}
    for f in files:
        _check_columns(f.path, table, keys.get(str(f.path), []), report)
    for path, line_number, raw in bad:
        rejects.append(
            (table.source, table.table, path, line_number, "INVALID JSON", "not a JSON object", raw)
        )
    report.rows_rejected += len(bad)
    projection = _projection(table, set(table.columns), _json_field)
    parsed = f"case when json_valid(json_line) then {is_object} end"
    return [f"select {projection}, _landing_row from {lines} where {parsed}"]


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
    problems: list[str] = []
    reports: list[TableReport] = []
    rejects: list[tuple] = []
    view_sql: dict[LandingTable, str] = {}
    warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse_path)) as con:
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
                    selects += _register_csv(con, table, by_format["csv"], report, rejects)
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
        report = LandingReport(landing_dir, reports, unclaimed_files(landing_dir, claimed))
        _write(con, report, view_sql, rejects)
    return report


def _write(con, report: LandingReport, view_sql: dict[LandingTable, str], rejects: list[tuple]) -> None:
    """Swap in the views and the audit tables in one transaction."""
    registered_at = datetime.now(UTC).replace(tzinfo=None)
    file_rows = []
    for table_report in report.tables:
        rejected_by_file: dict[str, int] = defaultdict(int)
        for r in rejects:
            if (r[0], r[1]) == (table_report.table.source, table_report.table.table):
                rejected_by_file[str(r[2])] += 1
        for f in table_report.files:
            file_rows.append(
                (
                    table_report.table.source,
                    table_report.table.table,
                    str(f.path),
                    f.format,
                    f.size_bytes,
                    datetime.fromtimestamp(f.modified_ns / 1e9, UTC).replace(tzinfo=None),
                    f.signature,
                    rejected_by_file.get(str(f.path), 0),
                    registered_at,
                )
            )
    schemas = sorted({t.schema for t in view_sql})
    con.execute("begin transaction")
    try:
        for schema in schemas:
            con.execute(f"create schema if not exists {_identifier(schema)}")
        for table, sql in view_sql.items():
            view = f"{_identifier(table.schema)}.{_identifier(table.identifier)}"
            con.execute(f"create or replace view {view} as\n{sql}")
        con.execute(
            f"create or replace table landing.{FILES_TABLE} (source varchar, table_name varchar, "
            "file_path varchar, file_format varchar, size_bytes bigint, modified_at timestamp, "
            "file_signature varchar, lines_rejected bigint, registered_at timestamp)"
        )
        if file_rows:
            con.executemany(
                f"insert into landing.{FILES_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?, ?)", file_rows
            )
        con.execute(
            f"create or replace table landing.{REJECTS_TABLE} (source varchar, table_name varchar, "
            "file_path varchar, line_number bigint, error_type varchar, error_message varchar, "
            "raw_line varchar)"
        )
        if rejects:
            con.executemany(f"insert into landing.{REJECTS_TABLE} values (?, ?, ?, ?, ?, ?, ?)", rejects)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
