"""The landing contract on Spark: the same files, checks and accounting as landing/register.py, with
every landed table written once per run as a Parquet table of the Spark catalog
(`landing.<source>__<table>`: all contract columns as strings, `_landing_file`, `_landing_row`),
beside `landing.rejected_lines`, `landing.landing_files` and `landing.landing_snapshot`.

Why tables rather than views over the files: Spark cannot give a CSV row its position in its file
from SQL, and every base model would parse the files again; one Parquet copy per run is read by
all of them. The accounting is DuckDB's: a CSV file is read in place (by Spark, all columns as
strings, whole files so that quoted line breaks stay in their value) when Spark finds no malformed
row and its rows plus the line breaks inside values equal its data lines counted without a parser;
otherwise it is read line by line (landing/csv_lines.py), exactly as on DuckDB, and its rejected
lines recorded. `_landing_row` is the row's position in its file (read in place), else its line
number (read line by line), as on DuckDB."""

from __future__ import annotations

import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

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
from landing.register import (
    FILES_TABLE,
    LINE_NUMBER_COLUMN,
    REJECTS_TABLE,
    SNAPSHOT_TABLE,
    FileAccount,
    LandingReport,
    TableReport,
    _check_columns,
    file_account_rows,
)

CORRUPT = "_aw_corrupt_record"


def _string_schema(columns: list[str], extra: tuple[str, ...] = ()):
    from pyspark.sql import types as T

    return T.StructType([T.StructField(c, T.StringType()) for c in [*columns, *extra]])


def _csv_reader(spark, delimiter: str, schema, multiline: bool = True):
    return (
        spark.read.schema(schema)
        .option("sep", delimiter)
        .option("quote", '"')
        .option("escape", '"')
        .option("multiLine", multiline)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("encoding", "UTF-8")
    )


def _file_uri(path: Path) -> str:
    return path.resolve().as_uri()


def _file_path():
    """The file a row came from as DuckDB names it (a plain path, not Spark's `file:` URI)."""
    from pyspark.sql import functions as F

    return F.regexp_replace(F.col("_metadata.file_path"), "^file:(//)?", "")


def _projected(frame, table: LandingTable, present: set[str], column=lambda c: c):
    """Every contract column as a string ('' is null), then _landing_file and _landing_row."""
    from pyspark.sql import functions as F

    values = [
        F.nullif(F.col(f"`{column(c)}`").cast("string"), F.lit("")).alias(c)
        if c in present
        else F.lit(None).cast("string").alias(c)
        for c in table.columns
    ]
    return frame.select(*values, "_landing_file", F.col("_landing_row").cast("bigint"))


def _scan_csv(spark, paths: list[Path], header: list[str], delimiter: str):
    """Per file: rows Spark parses, malformed rows, and line breaks inside values (as DuckDB's scan)."""
    from pyspark.sql import functions as F

    frame = (
        _csv_reader(spark, delimiter, _string_schema(header, (CORRUPT,)))
        .option("header", True)
        .csv([_file_uri(p) for p in paths])
        .withColumn("_file", _file_path())
    )
    values = [F.coalesce(F.col(f"`{c}`"), F.lit("")) for c in header]

    def breaks(character: str):
        return sum(F.length(v) - F.length(F.regexp_replace(v, character, "")) for v in values)

    rows = frame.groupBy("_file").agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(F.col(CORRUPT).isNotNull(), 1).otherwise(0)).alias("malformed"),
        F.sum(breaks("\n")).alias("newlines"),
        F.sum(breaks("\r")).alias("carriage_returns"),
    )
    return {row["_file"]: row for row in rows.collect()}


def _in_place(spark, paths: list[Path], header: list[str], delimiter: str, table: LandingTable):
    """The rows of clean files, numbered in file order: a multi-line CSV is read whole, one file per
    task, so the generated id grows with the row's position in its file."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    frame = (
        _csv_reader(spark, delimiter, _string_schema(header))
        .option("header", True)
        .csv([_file_uri(p) for p in paths])
        .withColumn("_landing_file", _file_path())
        .withColumn("_order", F.monotonically_increasing_id())
    )
    numbered = frame.withColumn(
        "_landing_row", F.row_number().over(Window.partitionBy("_landing_file").orderBy("_order"))
    )
    return _projected(numbered, table, set(header) & set(table.columns))


def _line_by_line(spark, table, path, header, delimiter, data_lines, report, rejects, workdir):
    """Read one file with csv_lines, hand its accepted records to Spark, and prove the account."""
    from pyspark.sql import functions as F

    accepted = workdir / f"{table.identifier}_{len(report.accounts)}.csv"
    try:
        with open(accepted, "wb") as sink:
            result = csv_lines.split_csv_by_line(path, delimiter, header, sink)
    except (OSError, EOFError) as error:
        raise LandingError(f"{path}: cannot be read: {error}") from error
    frame = (
        _csv_reader(spark, delimiter, _string_schema([LINE_NUMBER_COLUMN, *header]))
        .option("header", False)
        .csv(_file_uri(accepted))
        .withColumn("_landing_file", F.lit(str(path)))
        .withColumn("_landing_row", F.col(LINE_NUMBER_COLUMN))
    )
    rows = _projected(frame, table, set(header) & set(table.columns)).cache()
    parsed = rows.count()
    continuation = len(result.continuation_line_numbers)
    if parsed + len(result.rejected) + continuation != data_lines:
        raise LandingError(
            f"{path}: {data_lines} data lines, but {parsed} rows parsed + {len(result.rejected)} lines "
            f"rejected + {continuation} lines continuing a quoted value; this is a bug in the landing step."
        )
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
    return rows


def _csv(spark, table, files, report, rejects, workdir) -> list:
    by_header: dict[tuple[tuple[str, ...], str], list[Path]] = defaultdict(list)
    for f in files:
        header, delimiter = read_csv_header(f.path)
        _check_columns(f.path, table, header, report)
        by_header[(tuple(header), delimiter)].append(f.path)
    frames = []
    for (header, delimiter), paths in by_header.items():
        scans = _scan_csv(spark, paths, list(header), delimiter)
        clean = []
        for path in paths:
            try:
                data_lines = csv_lines.count_data_lines(path)
            except (OSError, EOFError) as error:
                raise LandingError(f"{path}: cannot be read: {error}") from error
            scan = scans.get(str(path))
            rows = scan["rows"] if scan else 0
            terminator = csv_lines.line_terminator(path)
            breaks = (scan["carriage_returns"] if terminator == b"\r" else scan["newlines"]) if scan else 0
            if scan and not scan["malformed"] and rows + breaks == data_lines:
                clean.append(path)
                report.rows_parsed += rows
                report.accounts[path] = FileAccount(data_lines, rows, 0, breaks, "spark")
            else:
                frames.append(
                    _line_by_line(
                        spark, table, path, list(header), delimiter, data_lines, report, rejects, workdir
                    )
                )
        if clean:
            frames.append(_in_place(spark, clean, list(header), delimiter, table))
    return frames


def _parquet(spark, table, files, report) -> list:
    """Column names from each file's footer (pyarrow, on the driver), then one Spark read of all
    files by name, each row numbered by its position in its file."""
    import pyarrow.parquet as pq
    from pyspark.sql import functions as F

    names: dict[str, str] = {}
    for f in files:
        try:
            found = pq.read_schema(f.path).names
        except Exception as error:
            raise LandingError(
                f"{f.path}: cannot be read as Parquet: {str(error).splitlines()[0]}"
            ) from error
        _check_columns(f.path, table, [n.strip().lower() for n in found], report)
        names.update({n.strip().lower(): n for n in found})
    frame = (
        spark.read.option("mergeSchema", True)
        .parquet(*[_file_uri(f.path) for f in files])
        .withColumn("_landing_file", _file_path())
        .withColumn("_landing_row", F.col("_metadata.row_index") + 1)
    )
    rows_by_file = dict(frame.groupBy("_landing_file").count().select("_landing_file", "count").collect())
    for f in files:
        rows = rows_by_file.get(str(f.path), 0)
        report.rows_parsed += rows
        report.accounts[f.path] = FileAccount(None, rows, 0, 0, "spark")
    present = set(names) & set(table.columns)
    return [_projected(frame, table, present, lambda c: names[c])]


def _jsonl(spark, table, files, report, rejects) -> list:
    """Every non-blank line of a JSON-lines file, numbered among them as on DuckDB; a line that is
    not a JSON object is rejected. Files are read whole, so the numbering is exact."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    paths = [f.path for f in files]
    whole = spark.read.option("wholetext", True).text([_file_uri(p) for p in paths])
    lines = (
        whole.select(
            _file_path().alias("_landing_file"),
            F.posexplode(F.split(F.col("value"), "\r\n|\n|\r")).alias("_position", "json_line"),
        )
        .where(F.trim(F.col("json_line")) != "")
        .withColumn(
            "_landing_row", F.row_number().over(Window.partitionBy("_landing_file").orderBy("_position"))
        )
        .withColumn("_keys", F.expr("json_object_keys(json_line)"))
        .cache()
    )
    bad = lines.where(F.col("_keys").isNull()).select("_landing_file", "_landing_row", "json_line").collect()
    keys = {
        row["_landing_file"]: [k.strip().lower() for k in row["keys"]]
        for row in lines.where(F.col("_keys").isNotNull())
        .groupBy("_landing_file")
        .agg(F.array_distinct(F.flatten(F.collect_list("_keys"))).alias("keys"))
        .collect()
    }
    for f in files:
        _check_columns(f.path, table, keys.get(str(f.path), []), report)
    for row in bad:
        rejects.append(
            (
                table.source,
                table.table,
                row["_landing_file"],
                row["_landing_row"],
                "INVALID JSON",
                "not a JSON object",
                row["json_line"],
            )
        )
    report.rows_rejected += len(bad)
    parsed_by_file = dict(
        lines.where(F.col("_keys").isNotNull())
        .groupBy("_landing_file")
        .count()
        .select("_landing_file", "count")
        .collect()
    )
    rejected_by_file = Counter(row["_landing_file"] for row in bad)
    for f in files:
        parsed, rejected = parsed_by_file.get(str(f.path), 0), rejected_by_file.get(str(f.path), 0)
        report.rows_parsed += parsed
        report.accounts[f.path] = FileAccount(parsed + rejected, parsed, rejected, 0, "spark")
    objects = lines.where(F.col("_keys").isNotNull())
    fields = objects.select(
        *[F.get_json_object("json_line", f"$['{c}']").alias(c) for c in table.columns],
        "_landing_file",
        "_landing_row",
    )
    return [_projected(fields, table, set(table.columns))]


def _empty(spark, table: LandingTable):
    schema = _string_schema(table.columns, ("_landing_file",))
    from pyspark.sql import functions as F

    return spark.createDataFrame([], schema).withColumn("_landing_row", F.lit(None).cast("bigint"))


def register_landing_spark(
    spark, landing_dir: Path, tables: list[LandingTable] | None = None
) -> LandingReport:
    """Validate every landing file against the contract and (re)write the landing tables on Spark;
    the same report, failures and audit rows as register_landing on DuckDB."""
    tables = tables or load_contract()
    landing_dir = landing_dir.resolve()
    fingerprint = landing_fingerprint(landing_dir)
    problems: list[str] = []
    reports: list[TableReport] = []
    rejects: list[tuple] = []
    frames: dict[LandingTable, list] = {}
    with tempfile.TemporaryDirectory() as workdir:
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
                frames[table] = [_empty(spark, table)]
                continue
            by_format: dict[str, list[LandingFile]] = defaultdict(list)
            for f in report.files:
                by_format[f.format].append(f)
            try:
                found = []
                if by_format["csv"]:
                    found += _csv(spark, table, by_format["csv"], report, rejects, Path(workdir))
                if by_format["parquet"]:
                    found += _parquet(spark, table, by_format["parquet"], report)
                if by_format["jsonl"]:
                    found += _jsonl(spark, table, by_format["jsonl"], report, rejects)
            except LandingError as error:
                problems.append(str(error))
                continue
            frames[table] = found
        if problems:
            raise LandingError("The landing files break the raw-data contract:\n- " + "\n- ".join(problems))
        claimed = {f.path for r in reports for f in r.files}
        report = LandingReport(landing_dir, reports, unclaimed_files(landing_dir, claimed), fingerprint)
        _write(spark, report, frames, rejects)
    return report


def _write(spark, report: LandingReport, frames: dict[LandingTable, list], rejects: list[tuple]) -> None:
    """Write each landed table, then the audit tables. Spark has no transaction across tables: a
    failure leaves some tables of this run beside the previous run's, and the step fails."""
    from functools import reduce

    from pyspark.sql import types as T

    for schema in sorted({t.schema for t in frames} | {"landing"}):
        spark.sql(f"create database if not exists `{schema}`")
    for table, parts in frames.items():
        union = reduce(lambda left, right: left.unionByName(right), parts)
        union.write.format("parquet").mode("overwrite").saveAsTable(f"`{table.schema}`.`{table.identifier}`")
    registered_at = datetime.now(UTC).replace(tzinfo=None)
    file_rows = file_account_rows(report, registered_at)
    text, whole, moment = T.StringType(), T.LongType(), T.TimestampType()
    files_schema = T.StructType(
        [
            T.StructField(name, kind)
            for name, kind in [
                ("source", text),
                ("table_name", text),
                ("file_path", text),
                ("file_format", text),
                ("size_bytes", whole),
                ("modified_at", moment),
                ("file_signature", text),
                ("data_lines", whole),
                ("rows_parsed", whole),
                ("lines_rejected", whole),
                ("continuation_lines", whole),
                ("read_by", text),
                ("registered_at", moment),
            ]
        ]
    )
    rejects_schema = T.StructType(
        [
            T.StructField(name, kind)
            for name, kind in [
                ("source", text),
                ("table_name", text),
                ("file_path", text),
                ("line_number", whole),
                ("error_type", text),
                ("error_message", text),
                ("raw_line", text),
            ]
        ]
    )
    snapshot_schema = T.StructType(
        [
            T.StructField("fingerprint", text),
            T.StructField("landing_dir", text),
            T.StructField("registered_at", moment),
        ]
    )
    for name, rows, schema in [
        (FILES_TABLE, file_rows, files_schema),
        (REJECTS_TABLE, rejects, rejects_schema),
        (SNAPSHOT_TABLE, [(report.fingerprint, str(report.landing_dir), registered_at)], snapshot_schema),
    ]:
        spark.createDataFrame(rows, schema).write.format("parquet").mode("overwrite").saveAsTable(
            f"landing.`{name}`"
        )


def register_landing_on_spark(landing_dir: Path, tables: list[LandingTable] | None = None) -> LandingReport:
    """register_landing_spark in a session of its own, stopped afterwards (warehouse/engine.py)."""
    from warehouse.engine import SparkEngine

    engine = SparkEngine()
    try:
        return register_landing_spark(engine.spark, landing_dir, tables)
    finally:
        engine.close()
