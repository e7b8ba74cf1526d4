"""The landing contract on Spark: the same files, checks and accounting as on DuckDB (all decided in
landing/core.py; this module only reads and counts with Spark), with
every landed table written once per run as a Parquet table of the Spark catalog
(`landing.<source>__<table>`: all contract columns as strings, `_landing_file`, `_landing_row`),
beside `landing.rejected_lines`, `landing.landing_files` and `landing.landing_snapshot`.

Why tables rather than views over the files: Spark cannot give a CSV row its position in its file
from SQL, and every base model would parse the files again; one Parquet copy per run is read by
all of them. A CSV file is read in place (by Spark, all columns as strings, whole files so that
quoted line breaks stay in their value) when Spark finds no malformed row and its rows plus the line
breaks inside values equal its data lines counted without a parser; otherwise it is read line by
line (landing/csv_lines.py), and its rejected lines recorded. `_landing_row` is the row's position
in its file (read in place), else its line number (read line by line), as on DuckDB."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from landing.audit import audit_tables
from landing.contract import LandingTable
from landing.core import (
    LINE_NUMBER_COLUMN,
    CsvScan,
    JsonlScan,
    LandingReport,
    LineRead,
    read_landing,
)
from landing.files import LandingError

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


class SparkReader:
    """The landing step's reads on Spark: every table's rows are DataFrames, written once by _write."""

    read_by = "spark"

    def __init__(self, spark) -> None:
        self.spark = spark

    def scan_csv(self, paths: list[Path], header: list[str], delimiter: str) -> dict[str, CsvScan]:
        """Per file: rows Spark parses, line breaks inside values, and whether any row is malformed
        (as DuckDB's scan). A file Spark returns no row for is read line by line."""
        from pyspark.sql import functions as F

        frame = (
            _csv_reader(self.spark, delimiter, _string_schema(header, (CORRUPT,)))
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
        scans = {str(path): CsvScan(rejected=True) for path in paths}
        for row in rows.collect():
            scans[row["_file"]] = CsvScan(
                row["rows"], row["newlines"], row["carriage_returns"], bool(row["malformed"])
            )
        return scans

    def csv_in_place(self, table: LandingTable, paths: list[Path], header: list[str], delimiter: str):
        """The rows of clean files, numbered in file order: a multi-line CSV is read whole, one file
        per task, so the generated id grows with the row's position in its file."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        frame = (
            _csv_reader(self.spark, delimiter, _string_schema(header))
            .option("header", True)
            .csv([_file_uri(p) for p in paths])
            .withColumn("_landing_file", _file_path())
            .withColumn("_order", F.monotonically_increasing_id())
        )
        numbered = frame.withColumn(
            "_landing_row", F.row_number().over(Window.partitionBy("_landing_file").orderBy("_order"))
        )
        return _projected(numbered, table, set(header) & set(table.columns))

    def accepted_lines(
        self, table: LandingTable, path: Path, accepted: Path, header: list[str], delimiter: str
    ) -> LineRead:
        from pyspark.sql import functions as F

        frame = (
            _csv_reader(self.spark, delimiter, _string_schema([LINE_NUMBER_COLUMN, *header]))
            .option("header", False)
            .csv(_file_uri(accepted))
            .withColumn("_landing_file", F.lit(str(path)))
            .withColumn("_landing_row", F.col(LINE_NUMBER_COLUMN))
        )
        rows = _projected(frame, table, set(header) & set(table.columns)).cache()
        return LineRead(rows, rows.count(), lambda: [row[0] for row in rows.select("_landing_row").collect()])

    def line_read_rows(self, table: LandingTable) -> None:
        return None  # each file's rows were returned by accepted_lines

    def parquet_columns(self, path: Path) -> list[str]:
        """From the file's footer (pyarrow, on the driver)."""
        import pyarrow.parquet as pq

        try:
            return pq.read_schema(path).names
        except Exception as error:
            raise LandingError(f"{path}: cannot be read as Parquet: {str(error).splitlines()[0]}") from error

    def parquet_rows(self, table: LandingTable, paths: list[Path], names: dict[str, str]):
        """One Spark read of all files by name, each row numbered by its position in its file."""
        from pyspark.sql import functions as F

        frame = (
            self.spark.read.option("mergeSchema", True)
            .parquet(*[_file_uri(p) for p in paths])
            .withColumn("_landing_file", _file_path())
            .withColumn("_landing_row", F.col("_metadata.row_index") + 1)
        )
        rows_by_file = dict(frame.groupBy("_landing_file").count().select("_landing_file", "count").collect())
        return rows_by_file, _projected(frame, table, set(names), lambda c: names[c])

    def jsonl(self, table: LandingTable, paths: list[Path]):
        """Every non-blank line of a JSON-lines file, numbered among them as on DuckDB. Files are
        read whole, so the numbering is exact."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        whole = self.spark.read.option("wholetext", True).text([_file_uri(p) for p in paths])
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
        objects = lines.where(F.col("_keys").isNotNull())
        bad = lines.where(F.col("_keys").isNull()).select("_landing_file", "_landing_row", "json_line")
        keys = {
            row["_landing_file"]: [k.strip().lower() for k in row["keys"]]
            for row in objects.groupBy("_landing_file")
            .agg(F.array_distinct(F.flatten(F.collect_list("_keys"))).alias("keys"))
            .collect()
        }
        parsed_by_file = dict(
            objects.groupBy("_landing_file").count().select("_landing_file", "count").collect()
        )
        fields = objects.select(
            *[F.get_json_object("json_line", f"$['{c}']").alias(c) for c in table.columns],
            "_landing_file",
            "_landing_row",
        )
        scan = JsonlScan(keys, [tuple(row) for row in bad.collect()], parsed_by_file)
        return scan, _projected(fields, table, set(table.columns))

    def empty(self, table: LandingTable):
        from pyspark.sql import functions as F

        schema = _string_schema(table.columns, ("_landing_file",))
        return self.spark.createDataFrame([], schema).withColumn("_landing_row", F.lit(None).cast("bigint"))


def register_landing_spark(
    spark, landing_dir: Path, tables: list[LandingTable] | None = None
) -> LandingReport:
    """Validate every landing file against the contract and (re)write the landing tables on Spark;
    the same report, failures and audit rows as register_landing on DuckDB."""
    with tempfile.TemporaryDirectory() as workdir:
        report, frames, rejects = read_landing(SparkReader(spark), landing_dir, tables, Path(workdir))
        _write(spark, report, frames, rejects)
    return report


def _write(spark, report: LandingReport, frames: dict[LandingTable, list], rejects: list[tuple]) -> None:
    """Write each landed table, then the audit tables. Spark has no transaction across tables: a
    failure leaves some tables of this run beside the previous run's, and the step fails."""
    from functools import reduce

    from pyspark.sql import types as T

    spark_types = {"text": T.StringType(), "integer": T.LongType(), "timestamp": T.TimestampType()}
    for schema in sorted({t.schema for t in frames} | {"landing"}):
        spark.sql(f"create database if not exists `{schema}`")
    for table, parts in frames.items():
        union = reduce(lambda left, right: left.unionByName(right), parts)
        union.write.format("parquet").mode("overwrite").saveAsTable(f"`{table.schema}`.`{table.identifier}`")
    registered_at = datetime.now(UTC).replace(tzinfo=None)
    for name, columns, rows in audit_tables(report, rejects, registered_at):
        schema = T.StructType([T.StructField(column, spark_types[kind]) for column, kind in columns])
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
