"""Every line of a landed CSV is accounted for: parsed into a row of the landing view, or kept in
`landing.rejected_lines` with its file, its physical line number, a reason and its text. These tests
call the landing step directly on a temporary warehouse, so they run in seconds."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from landing.files import LandingError
from landing.register import register_landing

CONTACT_HEADER = "contact_id,email,first_name,updated_at"
ORDER_HEADER = "order_id,ordered_at,status,currency,total"


def _contact(number: int, first_name: str = "Ann") -> str:
    return f"C{number},c{number}@example.com,{first_name},2026-01-01T00:00:00Z"


def _write(path: Path, lines: list[str | bytes]) -> Path:
    """Raw lines as bytes (a `bytes` line is written as is, e.g. with a Latin-1 byte), `.gz` compressed
    when the name says so."""
    content = b"".join((line if isinstance(line, bytes) else line.encode()) + b"\n" for line in lines)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content) if path.name.endswith(".gz") else content)
    return path


@pytest.fixture
def landing(tmp_path) -> Path:
    """A landing folder holding the required orders table; each test writes its contacts file."""
    folder = tmp_path / "landing"
    _write(folder / "orders" / "orders.csv", [ORDER_HEADER, "O1,2026-03-01T10:00:00Z,completed,USD,10"])
    return folder


def _register(landing: Path, tmp_path: Path) -> Path:
    warehouse = tmp_path / "warehouse.duckdb"
    register_landing(warehouse, landing)
    return warehouse


def _query(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def _staged_ids(warehouse: Path) -> list[str]:
    """Every column is read, as staging reads them: a row DuckDB cannot decode cannot hide here."""
    rows = _query(warehouse, "select contact_id, email, first_name, updated_at from landing.crm__contacts")
    return sorted((row[0] for row in rows), key=lambda contact_id: int(contact_id[1:]))


def _rejected(warehouse: Path) -> list[tuple]:
    return _query(
        warehouse,
        "select file_path, line_number, error_type, raw_line from landing.rejected_lines "
        "where table_name = 'contacts' order by line_number",
    )


def _file_accounting(warehouse: Path, path: Path) -> tuple[int, int, int, int, str]:
    """(data lines, rows parsed, lines rejected, lines continuing a quoted value, reader)."""
    return _query(
        warehouse,
        "select data_lines, rows_parsed, lines_rejected, continuation_lines, read_by "
        f"from landing.landing_files where file_path = '{path.resolve()}'",
    )[0]


def _assert_balanced(warehouse: Path, path: Path) -> None:
    data_lines, parsed, rejected, continuation, _ = _file_accounting(warehouse, path)
    assert parsed + rejected + continuation == data_lines


@pytest.mark.parametrize("name", ["contacts.csv", "contacts.csv.gz"])
def test_a_latin1_byte_deep_in_a_utf8_csv_is_a_rejected_line(landing, tmp_path, name):
    """The bad line is rejected with its line number and readable text; the rows around it are parsed,
    and the view's row count does not depend on which columns a query reads."""
    rows = 6_000
    lines = [CONTACT_HEADER] + [_contact(n) for n in range(1, rows + 1)]
    lines[3_000] = "C3000,c3000@example.com,Jos\xe9,2026-01-01T00:00:00Z".encode("latin-1")
    path = _write(landing / "crm" / name, lines)

    warehouse = _register(landing, tmp_path)

    assert _rejected(warehouse) == [
        (
            str(path.resolve()),
            3_001,
            "INVALID ENCODING",
            "C3000,c3000@example.com,Jos\\xe9,2026-01-01T00:00:00Z",
        )
    ]
    assert _staged_ids(warehouse) == [f"C{n}" for n in range(1, rows + 1) if n != 3_000]
    assert _query(warehouse, "select count(*) from landing.crm__contacts") == [(rows - 1,)]
    assert _file_accounting(warehouse, path)[:3] == (rows, rows - 1, 1)
    _assert_balanced(warehouse, path)


@pytest.mark.parametrize(
    ("name", "rows"), [("contacts.csv", 12), ("contacts.csv", 60_000), ("contacts.csv.gz", 60_000)]
)
def test_an_unterminated_quote_rejects_only_its_line(landing, tmp_path, name, rows):
    """The valid rows after the broken line are parsed: small files and files large enough for
    DuckDB's parallel scan alike."""
    broken = rows // 2
    lines = [CONTACT_HEADER] + [_contact(n) for n in range(1, rows + 1)]
    lines[broken] = f'C{broken},c{broken}@example.com,"Ann,2026-01-01T00:00:00Z'
    path = _write(landing / "crm" / name, lines)

    warehouse = _register(landing, tmp_path)

    [(file_path, line_number, error_type, raw_line)] = _rejected(warehouse)
    assert (file_path, line_number, error_type) == (str(path.resolve()), broken + 1, "UNQUOTED VALUE")
    assert raw_line == lines[broken]
    assert _staged_ids(warehouse) == [f"C{n}" for n in range(1, rows + 1) if n != broken]
    _assert_balanced(warehouse, path)


def test_a_valid_quoted_embedded_newline_is_one_row_on_the_fast_path(landing, tmp_path):
    """A quoted value spanning lines is legal CSV: one row, no rejected line, and DuckDB still reads
    the file (a clean file never takes the slower line-by-line path)."""
    path = _write(
        landing / "crm" / "contacts.csv",
        [CONTACT_HEADER, _contact(1), 'C2,c2@example.com,"Ann\nMarie",2026-01-01T00:00:00Z', _contact(3), ""],
    )

    warehouse = _register(landing, tmp_path)

    assert _rejected(warehouse) == []
    assert _query(warehouse, "select first_name from landing.crm__contacts where contact_id = 'C2'") == [
        ("Ann\nMarie",)
    ]
    assert _file_accounting(warehouse, path) == (4, 3, 0, 1, "duckdb")


def test_rejected_lines_are_numbered_by_physical_line_after_an_embedded_newline(landing, tmp_path):
    """Line numbers count the file's lines as an editor shows them, not records; an unterminated quote
    followed by a legal multi-line value and more quotes loses no valid row."""
    lines = [
        CONTACT_HEADER,  # line 1
        'C1,c1@example.com,"Ann\nMarie",2026-01-01T00:00:00Z',  # lines 2-3
        _contact(2),  # line 4
        b"C3,c3@example.com,Jos\xe9,2026-01-01T00:00:00Z",  # line 5
        'C4,c4@example.com,"Ann,2026-01-01T00:00:00Z',  # line 6: the quote never closes
        _contact(5),  # line 7
        'C6,c6@example.com,"Bo\nBo",2026-01-01T00:00:00Z',  # lines 8-9
        'C7,c7@example.com,"Cy",2026-01-01T00:00:00Z',  # line 10
        "C8,c8@example.com",  # line 11: too few fields
    ]
    path = _write(landing / "crm" / "contacts.csv", lines)

    warehouse = _register(landing, tmp_path)

    rejected = [(line, error_type) for _, line, error_type, _ in _rejected(warehouse)]
    assert rejected == [(5, "INVALID ENCODING"), (6, "UNQUOTED VALUE"), (11, "MISSING COLUMNS")]
    assert _staged_ids(warehouse) == ["C1", "C2", "C5", "C6", "C7"]
    assert _query(warehouse, "select first_name from landing.crm__contacts where contact_id = 'C6'") == [
        ("Bo\nBo",)
    ]
    assert _file_accounting(warehouse, path) == (10, 5, 3, 2, "line_reader")


UPDATED_AT = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("content", "first_names", "rejected", "account"),
    [
        pytest.param(
            f'{CONTACT_HEADER}\nC1,c1@example.com,"Ann\n\nMarie",{UPDATED_AT}\n{_contact(2)}\n',
            ["Ann\n\nMarie", "Ann"],
            [],
            (3, 2, 0, 1, "line_reader"),
            id="blank-line-inside-a-quoted-value",
        ),
        pytest.param(
            f'{CONTACT_HEADER}\r{_contact(1)}\rC2,c2@example.com,"Ann,{UPDATED_AT}\r'
            f'C3,c3@example.com,"A\rB",{UPDATED_AT}\r{_contact(4)}\r',
            ["Ann", "A\rB", "Ann"],
            [(3, "UNQUOTED VALUE")],
            (5, 3, 1, 1, "line_reader"),
            id="carriage-return-line-endings",
        ),
        pytest.param(
            f'{CONTACT_HEADER}\n{_contact(1)}\n"C2",c2@example.com,Ann,"{UPDATED_AT}"\r\n{_contact(3)}\n',
            ["Ann", "Ann", "Ann"],
            [],
            (3, 3, 0, 0, "line_reader"),
            id="a-crlf-line-in-an-lf-file",
        ),
    ],
)
def test_files_duckdb_cannot_count_exactly_are_read_line_by_line(
    landing, tmp_path, content, first_names, rejected, account
):
    """Where DuckDB's count of a file does not balance (a blank line inside a quoted value), or it
    rejects a line (a CRLF line in an LF file, a broken quote in a CR file), the line-by-line reader
    reads the file, parses every valid row and still proves the account."""
    path = landing / "crm" / "contacts.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes(content.encode())

    warehouse = _register(landing, tmp_path)

    assert [(line, error_type) for _, line, error_type, _ in _rejected(warehouse)] == rejected
    names = _query(warehouse, "select first_name from landing.crm__contacts order by _landing_row")
    assert [name for (name,) in names] == first_names
    assert _file_accounting(warehouse, path) == account
    _assert_balanced(warehouse, path)


def test_a_reader_that_loses_a_row_fails_the_landing_naming_file_and_line(landing, tmp_path, monkeypatch):
    """The per-file count is independent of the readers: were a row to go missing between the
    line-by-line reader and DuckDB, the landing step fails and says where, rather than leave a silent
    difference."""
    import landing.csv_lines as csv_lines

    path = _write(
        landing / "crm" / "contacts.csv",
        [
            CONTACT_HEADER,
            _contact(1),
            'C2,c2@example.com,"Ann,2026-01-01T00:00:00Z',
            _contact(3),
            _contact(4),
        ],
    )
    split_csv_by_line = csv_lines.split_csv_by_line

    class LosingLineFour:
        def __init__(self, sink):
            self.sink = sink

        def write(self, record: bytes) -> None:
            if not record.startswith(b"4,"):
                self.sink.write(record)

    monkeypatch.setattr(
        csv_lines,
        "split_csv_by_line",
        lambda path, delimiter, header, accepted: split_csv_by_line(
            path, delimiter, header, LosingLineFour(accepted)
        ),
    )

    with pytest.raises(LandingError) as failure:
        register_landing(tmp_path / "warehouse.duckdb", landing)

    message = str(failure.value)
    assert str(path.resolve()) in message
    assert "line(s) [4]" in message


def test_a_json_lines_file_that_is_not_utf8_fails_naming_that_file_and_line(landing, tmp_path):
    """JSON lines are not read line by line: such a file fails the landing, and the message names it
    (not the table's first file), its line and why."""
    _write(landing / "crm" / "contacts.csv", [CONTACT_HEADER, _contact(1)])
    event = '{"event_id": "E%d", "event_type": "open", "event_at": "2026-01-01T00:00:00Z"}'
    _write(landing / "email" / "events" / "a.jsonl", [event % 1])
    broken = _write(
        landing / "email" / "events" / "b.jsonl",
        [event % 2, (event % 3).replace("open", "\xf6pen").encode("latin-1")],
    )

    with pytest.raises(LandingError) as failure:
        register_landing(tmp_path / "warehouse.duckdb", landing)

    message = str(failure.value)
    assert f"{broken.resolve()}: cannot be read as JSON lines" in message
    assert "Line: 2" in message and "not UTF-8" in message


def test_a_carriage_return_inside_an_unquoted_value_rejects_only_its_line(landing, tmp_path):
    """Found by the adversarial consent suite: an address padded with a bare carriage return (an
    export that quotes only commas) made the landing step fail as a whole."""
    _write(
        landing / "crm" / "contacts.csv",
        [
            CONTACT_HEADER,
            _contact(1),
            b"C2,c2@example.com\r,Bo,2026-01-01T00:00:00Z",
            b'C3,"c3@example.com\r",Cy,2026-01-01T00:00:00Z',
            _contact(4),
        ],
    )
    warehouse = _register(landing, tmp_path)
    assert _staged_ids(warehouse) == ["C1", "C3", "C4"]
    rejected = _rejected(warehouse)
    assert [(line, kind) for _, line, kind, *_ in rejected] == [(3, "UNQUOTED VALUE")]
    [(reason,)] = _query(warehouse, "select error_message from landing.rejected_lines")
    assert "carriage return" in reason


def test_a_file_that_lands_later_but_sorts_first_leaves_the_other_files_row_numbers_alone(landing, tmp_path):
    """`_landing_row` counts within its file: were it a position across all of a table's files, a
    new file sorting first would renumber the others, and an incremental build (which keeps the rows
    it parsed) would differ from a full build on the same files."""
    _write(landing / "crm" / "contacts_2026_06_02.csv", [CONTACT_HEADER, _contact(1), _contact(2)])
    positions = "select _landing_file, _landing_row, contact_id from landing.crm__contacts order by all"
    (tmp_path / "before").mkdir()
    (tmp_path / "after").mkdir()
    before = _query(_register(landing, tmp_path / "before"), positions)
    _write(landing / "crm" / "contacts_2026_06_01.csv", [CONTACT_HEADER, _contact(3)])
    after = _query(_register(landing, tmp_path / "after"), positions)
    assert [(Path(f).name, row, key) for f, row, key in before] == [
        ("contacts_2026_06_02.csv", 1, "C1"),
        ("contacts_2026_06_02.csv", 2, "C2"),
    ]
    assert [row for row in after if row[2] != "C3"] == before
    assert [(Path(f).name, row) for f, row, key in after if key == "C3"] == [("contacts_2026_06_01.csv", 1)]


UNREADABLE = b"contact_id,email,updated_at\n\xff\xfe not UTF-8,c9@example.com,2026-01-01\n"


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_a_query_of_some_files_reads_only_those(landing, tmp_path, extension):
    """An incremental build asks the landing view for the files it has not parsed yet, by name: the
    other files must not be read (at 100k contacts, reading every landed file for the few new ones
    took most of a triggered run's staging). Each file is its own reader in the view. Proven for
    CSV and JSON lines by making the other files unreadable after registering (a view that read them
    would fail), for Parquet, whose reader opens every footer when the view is bound, by its plan."""
    paths = [landing / "crm" / f"contacts_2026_06_0{day}.{extension}" for day in (1, 2, 3)]
    for number, path in enumerate(paths, start=1):
        row = {"contact_id": f"C{number}", "email": f"c{number}@example.com", "updated_at": "2026-01-01"}
        path.parent.mkdir(parents=True, exist_ok=True)
        if extension == "csv":
            _write(path, [",".join(row), ",".join(row.values())])
        elif extension == "jsonl":
            _write(path, [json.dumps(row)])
        else:
            pq.write_table(pa.Table.from_pylist([row]), path)
    warehouse = _register(landing, tmp_path)
    named = paths[1].resolve()
    query = f"select contact_id, _landing_row from landing.crm__contacts where _landing_file = '{named}'"
    if extension == "parquet":
        [(_, plan)] = _query(warehouse, f"explain {query}")
        assert "Scanning Files: 1/3" in plan
    else:
        for other in (paths[0], paths[2]):
            other.write_bytes(UNREADABLE)
        with pytest.raises(duckdb.Error):
            _query(warehouse, "select contact_id, _landing_row from landing.crm__contacts")
    assert _query(warehouse, query) == [("C2", 1)]


def test_json_lines_that_are_not_objects_are_rejected_with_their_line_and_the_others_landed(
    landing, tmp_path
):
    """Lines are numbered among a file's non-blank lines; anything but a JSON object is rejected
    with its text, and each file's account balances."""
    _write(landing / "crm" / "contacts.csv", [CONTACT_HEADER, _contact(1)])
    event = '{"event_id": "E%d", "event_type": "open", "event_at": "2026-01-01T00:00:00Z"}'
    first = _write(
        landing / "email" / "events" / "a.jsonl", [event % 1, "[1, 2]", "", event % 2, "{broken", event % 3]
    )
    second = _write(landing / "email" / "events" / "b.jsonl", ['"just a string"', event % 4])
    warehouse = _register(landing, tmp_path)
    rejected = _query(
        warehouse,
        "select file_path, line_number, error_type, raw_line from landing.rejected_lines "
        "where table_name = 'events' order by file_path, line_number",
    )
    assert rejected == [
        (str(first.resolve()), 2, "INVALID JSON", "[1, 2]"),
        (str(first.resolve()), 4, "INVALID JSON", "{broken"),
        (str(second.resolve()), 1, "INVALID JSON", '"just a string"'),
    ]
    assert _file_accounting(warehouse, first)[:3] == (5, 3, 2)
    assert _file_accounting(warehouse, second)[:3] == (2, 1, 1)
    landed = _query(warehouse, "select event_id, _landing_row from landing.email__events order by event_id")
    assert landed == [("E1", 1), ("E2", 3), ("E3", 5), ("E4", 2)]
