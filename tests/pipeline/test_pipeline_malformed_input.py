"""Bad input gets a clear error or a quarantined row with its reason — never a crash deep in a stack,
never a silent loss. Each test drives the real landing step and dbt models through Dagster."""

from __future__ import annotations

import pandas as pd

from tests.pipeline.helpers import (
    CONTACT_HEADER,
    ORDER_HEADER,
    contact,
    failure_messages,
    materialize,
    order,
    query,
    write_csv,
    write_jsonl,
    write_lines,
    write_parquet,
)


def _csv_line(values: list[str]) -> str:
    return ",".join(values)


def test_malformed_lines_and_wrong_types_are_quarantined_and_reconciled(workspace):
    """Also the minimal installation: only the two required sources (crm, orders) are landed, and
    every staging model still builds, the optional ones empty."""
    landing, warehouse = workspace
    write_lines(
        landing / "crm" / "contacts.csv",
        [
            _csv_line(CONTACT_HEADER),
            _csv_line(contact("C1", "a@example.com")),
            _csv_line(contact("C2", "b@example.com"))[:25],  # truncated line: too few fields
            _csv_line(contact("C3", "c@example.com")) + ",surplus",  # too many fields
            _csv_line(contact("C4", "d@example.com", updated_at="yesterday")),  # wrong type
            _csv_line(contact("C5", "e@example.com")),
            _csv_line(contact("C1", "a@example.com", updated_at="2026-02-01T00:00:00Z")),  # newer version
        ],
    )
    write_csv(
        landing / "orders" / "orders.csv",
        ORDER_HEADER,
        [order("O1", "C1"), order("O2", "C5", total="abc"), order("O3", "C5"), order("O3", "C5")],
    )

    result = materialize()

    assert result.success, failure_messages(result)
    quarantined = query(
        warehouse,
        "select table_name, rejection_rule, row_key from audit.quarantined_rows order by 1, 2, 3",
    )
    rules = [(table, rule) for table, rule, _ in quarantined]
    assert rules == [
        ("contacts", "malformed_line"),
        ("contacts", "malformed_line"),
        ("contacts", "unparseable_updated_at"),
        ("orders", "unparseable_total"),
    ]
    assert quarantined[2][2] == "C4" and quarantined[3][2] == "O2"
    assert query(warehouse, "select contact_id, updated_at from staging.stg_crm__contacts order by 1") == [
        ("C1", pd.Timestamp("2026-02-01").to_pydatetime()),
        ("C5", pd.Timestamp("2026-01-01").to_pydatetime()),
    ]
    reconciliation = dict(
        (
            (table, (landed, rejected, quarantined_rows, collapsed, staged, unaccounted))
            for table, landed, rejected, quarantined_rows, collapsed, staged, unaccounted in query(
                warehouse,
                "select table_name, rows_landed, rows_rejected_at_landing, rows_quarantined, "
                "rows_collapsed_as_duplicates, rows_staged, rows_unaccounted "
                "from audit.source_reconciliation "
                "where source_name in ('crm', 'orders') and table_name in ('contacts', 'orders')",
            )
        )
    )
    assert reconciliation["contacts"] == (6, 2, 1, 1, 2, 0)
    assert reconciliation["orders"] == (4, 0, 1, 1, 2, 0)
    staged = dict(query(warehouse, "select table_name, rows_staged from audit.source_reconciliation"))
    assert staged["order_items"] == staged["events"] == staged["requests"] == staged["campaigns"] == 0
    assert query(warehouse, "select count(*) from staging.stg_web__events") == [(0,)]


def test_bad_header_fails_naming_the_file_and_the_column(workspace):
    landing, _ = workspace
    header = ["emial" if c == "email" else c for c in CONTACT_HEADER]
    bad_file = write_csv(landing / "crm" / "contacts.csv", header, [contact("C1", "a@example.com")])
    write_csv(landing / "orders" / "orders.csv", ORDER_HEADER, [order("O1", "C1")])

    result = materialize(groups=("landing",))

    assert not result.success
    message = failure_messages(result)
    assert str(bad_file) in message
    assert "missing required column(s) ['email']" in message
    assert "Found: [" in message and "emial" in message


def test_missing_required_source_fails_clearly(workspace):
    landing, _ = workspace
    write_csv(landing / "crm" / "contacts.csv", CONTACT_HEADER, [contact("C1", "a@example.com")])

    result = materialize(groups=("landing",))

    assert not result.success
    assert "orders/orders: required, but no files found" in failure_messages(result)


def test_csv_parquet_and_json_lines_land_identically(workspace):
    landing, warehouse = workspace
    columns = ["request_id", "contact_id", "email", "request_type", "requested_at"]
    values = [["R1", "C1", "", "erasure", "2026-01-01"], ["R2", "", "X@Y.com", "opt_out", "02/01/2026"]]
    records = [dict(zip(columns, row, strict=True)) for row in values]
    frame = pd.DataFrame(records)
    write_csv(landing / "crm" / "contacts.csv", CONTACT_HEADER, [contact("C1", "a@example.com")])
    write_csv(landing / "orders" / "orders.csv", ORDER_HEADER, [order("O1", "C1")])
    write_csv(landing / "privacy" / "requests_a.csv", list(frame.columns), frame.values.tolist())
    write_parquet(landing / "privacy" / "requests" / "part-0.parquet", frame)
    write_jsonl(landing / "privacy" / "requests" / "part-1.jsonl", records[::-1])

    result = materialize(groups=("landing",))

    assert result.success, failure_messages(result)
    rows = query(
        warehouse,
        "select request_id, contact_id, email, request_type, requested_at, count(*) "
        "from landing.privacy__requests group by all order by 1",
    )
    assert rows == [
        ("R1", "C1", None, "erasure", "2026-01-01", 3),
        ("R2", None, "X@Y.com", "opt_out", "02/01/2026", 3),
    ]


def test_undecodable_and_unterminated_lines_are_quarantined_and_the_rows_after_them_staged(workspace):
    """A Latin-1 byte and an unterminated quote each cost their own line only: both lines reach
    `audit.quarantined_rows` with their file and line, every valid row after them is staged, and the
    reconciliation balances."""
    landing, warehouse = workspace
    contacts = landing / "crm" / "contacts.csv"
    contacts.parent.mkdir(parents=True)
    lines = [_csv_line(CONTACT_HEADER)] + [
        _csv_line(contact(f"C{n}", f"c{n}@example.com")) for n in range(1, 7)
    ]
    lines[2] = _csv_line(contact("C2", "c2@example.com", first_name="Jos\xe9"))
    lines[4] = _csv_line(contact("C4", "c4@example.com", first_name='"Ann'))
    contacts.write_bytes("".join(line + "\n" for line in lines).encode("latin-1"))
    write_csv(landing / "orders" / "orders.csv", ORDER_HEADER, [order("O1", "C1")])

    result = materialize()

    assert result.success, failure_messages(result)
    assert query(
        warehouse,
        "select row_key, rejection_detail from audit.quarantined_rows "
        "where table_name = 'contacts' order by row_key",
    ) == [
        (f"{contacts.resolve()}:3", "INVALID ENCODING: not valid UTF-8: byte 0xe9 in column first_name"),
        (f"{contacts.resolve()}:5", "UNQUOTED VALUE: unterminated quote: the quoted value opened on this "
         "line never closes; the line is rejected alone and reading resumes on the next line"),
    ]  # fmt: skip
    assert query(warehouse, "select contact_id from staging.stg_crm__contacts order by 1") == [
        ("C1",), ("C3",), ("C5",), ("C6",),
    ]  # fmt: skip
    assert query(
        warehouse,
        "select rows_landed, rows_rejected_at_landing, rows_staged, rows_unaccounted "
        "from audit.source_reconciliation where table_name = 'contacts'",
    ) == [(6, 2, 4, 0)]
