"""The residue sweep of activation/erasure.py on Spark (AW_ENGINE=spark): the same tables, columns
and rules, carried out on Parquet tables, which have no row delete or update. Each table that holds
an erased person's row is rewritten without it: the kept rows go to a staging table, which is then
marked complete, copied over the original (INSERT OVERWRITE, every partition) and dropped.

Resuming after a crash: a staging table marked complete holds the table's rows without the erased
ones, so the next sweep finishes its copy; one not marked complete was cut short before the original
was touched, so it is dropped. Matching is done by privacy.is_erased, the function dbt installs on
both engines from macros/privacy/erasure.sql, so the hash and the normalization have one home.

There is no compaction step: an overwrite replaces a Parquet table's files, where DuckDB keeps freed
pages in its file until the file is rewritten."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pyarrow as pa

from activation.erasure import (
    ERASED_TEXT,
    FREE_TEXT_COLUMNS,
    IDENTIFIER_COLUMNS,
    LANDING_SCHEMA,
    UNTOUCHED_SCHEMAS,
    PurgeReport,
    utcnow,
)
from warehouse.engine import SparkEngine

log = logging.getLogger("activation.erasure")

STAGING_SUFFIX = "__erasure_rewrite"
COMPLETE_PROPERTY = "audience_warehouse.rewrite_complete"
PURGE_LOG = pa.schema(
    [
        ("purged_at", pa.timestamp("us")),
        ("tombstones", pa.int64()),
        ("rows_deleted", pa.int64()),
        ("lines_blanked", pa.int64()),
        ("texts_scrubbed", pa.int64()),
        ("compacted", pa.bool_()),
        ("run_id", pa.string()),
    ]
)


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _target(schema: str, table: str) -> str:
    return f"{_q(schema)}.{_q(table)}"


def _erased(column: str) -> str:
    """True (never null) when the column's value has a tombstone of the column's kind."""
    kind = IDENTIFIER_COLUMNS[column]
    return f"coalesce({_q(column)} IS NOT NULL AND privacy.is_erased('{kind}', {_q(column)}), false)"


class SparkSweep:
    """One sweep on one Spark session: the catalog walk, the counts and the rewrites."""

    def __init__(self, engine: SparkEngine):
        self.engine = engine
        self.spark = engine.spark

    def count(self, sql: str) -> int:
        return int(self.spark.sql(sql).collect()[0][0] or 0)

    def tables(self) -> Iterator[tuple[str, str]]:
        """(schema, table) of every stored table outside the untouched schemas; no views."""
        for database in self.spark.catalog.listDatabases():
            if database.name in UNTOUCHED_SCHEMAS:
                continue
            for table in self.spark.catalog.listTables(database.name):
                if table.isTemporary or table.tableType == "VIEW" or table.name.endswith(STAGING_SUFFIX):
                    continue
                yield database.name, table.name

    def string_columns(self, schema: str, table: str) -> list[str]:
        columns = self.spark.catalog.listColumns(table, schema)
        return [column.name for column in columns if column.dataType == "string"]

    def all_columns(self, schema: str, table: str) -> list[str]:
        return [column.name for column in self.spark.catalog.listColumns(table, schema)]

    def resume(self) -> None:
        """Finish or drop what a sweep cut short (see the module docstring)."""
        for database in self.spark.catalog.listDatabases():
            for table in self.spark.catalog.listTables(database.name):
                if not table.name.endswith(STAGING_SUFFIX) or table.isTemporary:
                    continue
                staging = _target(database.name, table.name)
                original = table.name[: -len(STAGING_SUFFIX)]
                properties = {
                    row.key: row.value for row in self.spark.sql(f"SHOW TBLPROPERTIES {staging}").collect()
                }
                if properties.get(COMPLETE_PROPERTY) == "true" and self.engine.table_exists(
                    database.name, original
                ):
                    log.warning("erasure: finishing the rewrite of %s.%s cut short", database.name, original)
                    self._overwrite(database.name, original, staging)
                self.spark.sql(f"DROP TABLE {staging}")

    def rewrite(self, schema: str, table: str, select_sql: str) -> None:
        """Replace the table's rows by what `select_sql` (over the table itself) returns."""
        staging = _target(schema, table + STAGING_SUFFIX)
        self.spark.sql(f"DROP TABLE IF EXISTS {staging}")
        self.spark.sql(select_sql).write.format("parquet").saveAsTable(staging)
        self.spark.sql(f"ALTER TABLE {staging} SET TBLPROPERTIES ('{COMPLETE_PROPERTY}' = 'true')")
        self._overwrite(schema, table, staging)
        self.spark.sql(f"DROP TABLE {staging}")

    def _overwrite(self, schema: str, table: str, staging: str) -> None:
        """Every partition replaced (static mode): a partition left without rows must not survive."""
        columns = ", ".join(_q(column) for column in self.all_columns(schema, table))
        setting = "spark.sql.sources.partitionOverwriteMode"
        before = self.spark.conf.get(setting, "STATIC")
        self.spark.conf.set(setting, "STATIC")
        try:
            self.spark.sql(f"INSERT OVERWRITE TABLE {_target(schema, table)} SELECT {columns} FROM {staging}")
        finally:
            self.spark.conf.set(setting, before)

    def delete_identified_rows(self, landing_only: bool) -> dict[str, int]:
        """Every row whose identifier has a tombstone, per column in column order (a row matched by
        an earlier column is counted there), as erasure._delete_identified_rows on DuckDB."""
        deleted: dict[str, int] = {}
        for schema, table in self.tables():
            if (schema == LANDING_SCHEMA) != landing_only:
                continue
            columns = [c for c in sorted(self.string_columns(schema, table)) if c in IDENTIFIER_COLUMNS]
            if not columns:
                continue
            matches = [_erased(column) for column in columns]
            counts = ", ".join(
                f"count_if({match}{''.join(f' AND NOT {earlier}' for earlier in matches[:i])})"
                for i, match in enumerate(matches)
            )
            found = self.spark.sql(f"SELECT {counts} FROM {_target(schema, table)}").collect()[0]
            if not any(found):
                continue
            kept = " AND ".join(f"NOT {match}" for match in matches)
            self.rewrite(schema, table, f"SELECT * FROM {_target(schema, table)} WHERE {kept}")
            for column, count in zip(columns, found, strict=True):
                if count:
                    deleted[f"{schema}.{table}.{column}"] = int(count)
        return deleted

    def blank_rejected_lines(self) -> int:
        if not (
            self.engine.table_exists("landing", "rejected_lines")
            and self.engine.table_exists("privacy", "erased_rejected_lines")
        ):
            return 0
        erased = "(SELECT DISTINCT file_path, line_number FROM privacy.erased_rejected_lines)"
        blanked = self.count(
            f"SELECT count(*) FROM landing.rejected_lines AS r JOIN {erased} AS e "
            "USING (file_path, line_number) WHERE r.raw_line IS NOT NULL"
        )
        if not blanked:
            return 0
        replaced = {
            "raw_line": "CASE WHEN e.file_path IS NULL THEN r.raw_line END",
            "error_message": "CASE WHEN e.file_path IS NULL THEN r.error_message "
            "ELSE 'line of an erased person: text removed' END",
        }
        select = ", ".join(
            f"{replaced.get(column, f'r.{_q(column)}')} AS {_q(column)}"
            for column in self.all_columns("landing", "rejected_lines")
        )
        self.rewrite(
            "landing",
            "rejected_lines",
            f"SELECT {select} FROM landing.rejected_lines AS r LEFT JOIN {erased} AS e "
            "ON r.file_path = e.file_path AND r.line_number = e.line_number",
        )
        return blanked

    def erased_addresses(self) -> list[str]:
        """Read before the landing rows go: restricted.erasure_targets is a view over them."""
        if not self.engine.table_exists("restricted", "erasure_targets"):
            return []
        rows = self.spark.sql(
            "SELECT DISTINCT lower(email) AS email FROM restricted.erasure_targets WHERE email IS NOT NULL"
        ).collect()
        return sorted(row.email for row in rows)

    def scrub_free_text(self, addresses: list[str]) -> int:
        """Each erased address in a free-text column replaced by [erased], whatever its case."""
        if not addresses:
            return 0
        self.spark.createDataFrame([(addresses,)], "addresses array<string>").createOrReplaceTempView(
            "erased_addresses"
        )
        scrubbed = 0
        for schema, table, column in FREE_TEXT_COLUMNS:
            if not self.engine.table_exists(schema, table):
                continue
            clean = (
                f"aggregate(a.addresses, t.{_q(column)}, (text, address) -> "
                f"regexp_replace(text, concat('(?i)\\\\Q', address, '\\\\E'), '{ERASED_TEXT}'))"
            )
            source = f"{_target(schema, table)} AS t CROSS JOIN erased_addresses AS a"
            changed = self.count(f"SELECT count(*) FROM {source} WHERE NOT ({clean} <=> t.{_q(column)})")
            if not changed:
                continue
            select = ", ".join(
                f"{clean} AS {_q(name)}" if name == column else f"t.{_q(name)}"
                for name in self.all_columns(schema, table)
            )
            self.rewrite(schema, table, f"SELECT {select} FROM {source}")
            scrubbed += changed
        self.spark.catalog.dropTempView("erased_addresses")
        return scrubbed


def purge_erased_residue_spark(
    run_id: str | None = None, *, force: bool = False, engine: SparkEngine | None = None
) -> PurgeReport:
    """erasure.purge_erased_residue on the Spark catalog: rejected lines and the landing schema on
    every call, every other schema when tombstones were added since the last sweep, or forced.
    `engine` defaults to one on the process's shared session."""
    report = PurgeReport()
    own_engine = engine is None
    engine = engine or SparkEngine()
    try:
        sweep = SparkSweep(engine)
        sweep.resume()
        if not (
            engine.table_exists("privacy", "erasure_tombstones")
            and sweep.spark.catalog.functionExists("privacy.is_erased")
        ):
            report.skipped = "no tombstones yet (dbt has not built privacy.erasure_tombstones)"
            return report
        report.tombstones = sweep.count("SELECT count(*) FROM privacy.erasure_tombstones")
        if report.tombstones == 0:
            report.skipped = "nobody has been erased"
            return report
        addresses = sweep.erased_addresses()
        report.lines_blanked = sweep.blank_rejected_lines()
        report.rows_deleted = sweep.delete_identified_rows(landing_only=True)
        swept = (
            sweep.count("SELECT coalesce(max(tombstones), 0) FROM activation.erasure_purges")
            if engine.table_exists("activation", "erasure_purges")
            else 0
        )
        if report.tombstones == swept and not force:
            report.skipped = f"no tombstone added since the last sweep ({swept})"
        else:
            report.texts_scrubbed = sweep.scrub_free_text(addresses)
            report.rows_deleted |= sweep.delete_identified_rows(landing_only=False)
        if report.skipped is None or report.lines_blanked or report.total_deleted:
            row = {
                "purged_at": [utcnow()],
                "tombstones": [report.tombstones if report.skipped is None else swept],
                "rows_deleted": [report.total_deleted],
                "lines_blanked": [report.lines_blanked],
                "texts_scrubbed": [report.texts_scrubbed],
                "compacted": [False],
                "run_id": [run_id],
            }
            engine.write_table("activation", "erasure_purges", pa.table(row, schema=PURGE_LOG), mode="append")
    finally:
        if own_engine:
            engine.close()
    for name, count in sorted(report.rows_deleted.items()):
        log.info("erasure: deleted %d row(s) from %s", count, name)
    return report
