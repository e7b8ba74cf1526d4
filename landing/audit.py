"""The landing schema's three audit tables, the same on every engine: every file read with its
account (`landing_files`), every line rejected (`rejected_lines`) and the folder's fingerprints when
the step started (`landing_snapshot`: what a later run, the published snapshot and the file-arrival
sensor compare against)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from landing.core import LandingReport

FILES_TABLE = "landing_files"
SNAPSHOT_TABLE = "landing_snapshot"
REJECTS_TABLE = "rejected_lines"

# The audit tables' columns, as (name, kind) with kind one of text / integer / timestamp: each
# engine spells the kinds in its own types.
FILES_COLUMNS = (
    ("source", "text"),
    ("table_name", "text"),
    ("file_path", "text"),
    ("file_format", "text"),
    ("size_bytes", "integer"),
    ("modified_at", "timestamp"),
    ("file_signature", "text"),
    ("data_lines", "integer"),
    ("rows_parsed", "integer"),
    ("lines_rejected", "integer"),
    ("continuation_lines", "integer"),
    ("read_by", "text"),
    ("registered_at", "timestamp"),
)
REJECTS_COLUMNS = (
    ("source", "text"),
    ("table_name", "text"),
    ("file_path", "text"),
    ("line_number", "integer"),
    ("error_type", "text"),
    ("error_message", "text"),
    ("raw_line", "text"),
)
SNAPSHOT_COLUMNS = (
    ("fingerprint", "text"),
    ("source_fingerprints", "text"),
    ("landing_dir", "text"),
    ("registered_at", "timestamp"),
)


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


def audit_tables(report: LandingReport, rejects: list[tuple], registered_at: datetime):
    """(table name, columns, rows) of the three audit tables of the landing schema."""
    by_source = json.dumps(report.source_fingerprints, sort_keys=True)
    snapshot = [(report.fingerprint, by_source, str(report.landing_dir), registered_at)]
    return [
        (FILES_TABLE, FILES_COLUMNS, file_account_rows(report, registered_at)),
        (REJECTS_TABLE, REJECTS_COLUMNS, rejects),
        (SNAPSHOT_TABLE, SNAPSHOT_COLUMNS, snapshot),
    ]
