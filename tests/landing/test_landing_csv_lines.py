"""The independent line count: non-blank lines after the header, whatever the line ends (LF, CRLF,
lone CR as DuckDB also reads them), blank lines, a missing final line end or gzip."""

from __future__ import annotations

import gzip

import pytest

from landing import csv_lines

CONTENTS = {
    "lf": b"h\n1\n2\n",
    "no-final-line-end": b"h\n1\n2",
    "blank-lines": b"h\n\n1\n\n\n2\n\n",
    "crlf-with-blank-lines": b"h\r\n1\r\n\r\n2\r\n\r\n",
    "carriage-return-only": b"h\r1\r\r2\r",
    "header-only": b"h\n",
    "header-without-line-end": b"h",
    "blank-last-line-without-end": b"h\n1\n\r",
}


@pytest.mark.parametrize("gzipped", [False, True])
@pytest.mark.parametrize("name", CONTENTS)
def test_data_lines_are_the_non_blank_lines_after_the_header(tmp_path, name, gzipped):
    content = CONTENTS[name]
    path = tmp_path / ("data.csv.gz" if gzipped else "data.csv")
    path.write_bytes(gzip.compress(content) if gzipped else content)

    expected = [
        number for number, line in enumerate(content.splitlines(), start=1) if number > 1 and line.strip()
    ]

    assert list(csv_lines.data_line_numbers(path)) == expected
    assert csv_lines.count_data_lines(path) == len(expected)
