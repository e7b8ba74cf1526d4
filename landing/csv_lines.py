"""Reading a CSV file line by line, for the files DuckDB's reader cannot be trusted with, and
counting a file's data lines independently of any CSV parser.

DuckDB reads a clean CSV fast and right. On a broken line it is neither: an unterminated quote makes
it swallow the lines after it into one rejected record (as far as the end of a parallel scan block,
so how many depends on the file's size), and a row holding bytes that are not UTF-8 is dropped or
kept depending on which columns a query reads. A file with any rejected line is read here instead:
every physical line ends in exactly one accepted record or one rejected line, numbered as an editor
numbers it. Python only finds where records start and end and whether they are valid; the accepted
records are handed back to DuckDB to parse, so their values are exactly what the fast path gives.

Records are recognised in DuckDB's dialect as the landing step configures it (quote and escape `"`):
spaces around a quoted value are dropped, a quote inside an unquoted value is kept as text, and one
trailing delimiter after the last value is ignored.
"""

from __future__ import annotations

import gzip
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

QUOTE = '"'
# DuckDB's default max_line_size: a quoted value still open after this many bytes is a broken quote.
MAX_RECORD_BYTES = 2_097_152
UNTERMINATED_QUOTE = (
    "unterminated quote: the quoted value opened on this line never closes; "
    "the line is rejected alone and reading resumes on the next line"
)
BARE_CARRIAGE_RETURN = (
    "a carriage return inside a value that is not quoted: readers end the line there, so the row "
    "cannot be read as one; quote the value or remove the character"
)
STRAY_QUOTE = (
    "stray quote: the quoted value opened on this line closes on a later line into no valid row; "
    "the line is rejected alone and reading resumes on the next line"
)


@dataclass(frozen=True)
class RejectedLine:
    line_number: int
    error_type: str
    message: str
    raw_line: str


@dataclass
class LineReadResult:
    """What reading one file line by line found; accepted records went to the caller's sink."""

    accepted: int = 0
    rejected: list[RejectedLine] = field(default_factory=list)
    continuation_line_numbers: list[int] = field(default_factory=list)


class _QuoteStillOpen(Exception):
    """The text ends inside a quoted value: the record continues on the next line."""


class _Malformed(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def open_binary(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def line_terminator(path: Path) -> bytes:
    """`\\r` for a file whose lines end with a lone carriage return (DuckDB reads those too), else
    `\\n` (a `\\r` before it is part of the terminator)."""
    with open_binary(path) as handle:
        head = handle.read(1 << 16)
    first_cr, first_lf = head.find(b"\r"), head.find(b"\n")
    lone_cr = first_cr >= 0 and (first_lf < 0 or first_cr + 1 < first_lf)
    return b"\r" if lone_cr else b"\n"


def _split_on(handle: BinaryIO, terminator: bytes) -> Iterator[bytes]:
    rest = b""
    while chunk := handle.read(1 << 20):
        parts = (rest + chunk).split(terminator)
        rest = parts.pop()
        for part in parts:
            yield part + terminator
    if rest:
        yield rest


@contextmanager
def _physical_lines(path: Path) -> Iterator[Iterator[tuple[int, bytes]]]:
    """The file's lines after the header, numbered from 2, each with its terminator."""
    terminator = line_terminator(path)
    with open_binary(path) as handle:
        lines = enumerate(handle if terminator == b"\n" else _split_on(handle, terminator), start=1)
        next(lines, None)
        yield lines


def _is_blank(raw: bytes) -> bool:
    return not raw.strip(b"\r\n")


def data_line_numbers(path: Path) -> Iterator[int]:
    """Numbers of the non-blank physical lines after the header. Deliberately no CSV parsing at all:
    this is the count both readers are checked against."""
    with _physical_lines(path) as lines:
        for number, raw in lines:
            if not _is_blank(raw):
                yield number


def count_data_lines(path: Path) -> int:
    return sum(1 for _ in data_line_numbers(path))


def split_fields(text: str, delimiter: str) -> list[str]:
    """The values of one record (its text may span lines inside quoted values)."""
    if QUOTE not in text:
        return text.split(delimiter)
    fields: list[str] = []
    position, end = 0, len(text)
    while True:
        start = position
        while start < end and text[start] == " ":
            start += 1
        if start < end and text[start] == QUOTE:
            value, position = _quoted_value(text, start + 1)
            while position < end and text[position] == " ":
                position += 1
            fields.append(value)
            if position == end:
                return fields
            if text[position] != delimiter:
                raise _Malformed(
                    "UNQUOTED VALUE", f"text after the closing quote of value {len(fields)}: a quoted "
                    "value must end at a delimiter or at the end of the line"
                )  # fmt: skip
            position += 1
        else:
            next_delimiter = text.find(delimiter, position)
            if next_delimiter < 0:
                fields.append(text[position:])
                return fields
            fields.append(text[position:next_delimiter])
            position = next_delimiter + 1


def _quoted_value(text: str, position: int) -> tuple[str, int]:
    """The value from just after an opening quote, and the position just after its closing quote."""
    parts = []
    while True:
        closing = text.find(QUOTE, position)
        if closing < 0:
            raise _QuoteStillOpen
        parts.append(text[position:closing])
        if text.startswith(QUOTE, closing + 1):
            parts.append(QUOTE)
            position = closing + 2
        else:
            return "".join(parts), closing + 1


def _decode(raw: bytes) -> tuple[str, bool]:
    """The text, and whether it is valid UTF-8 (invalid bytes are kept as surrogates so that the
    text still splits into its fields)."""
    try:
        return raw.decode("utf-8"), True
    except UnicodeDecodeError:
        return raw.decode("utf-8", "surrogateescape"), False


def _strip_terminator(raw: bytes) -> bytes:
    if raw.endswith(b"\n"):
        raw = raw[:-1]
    return raw[:-1] if raw.endswith(b"\r") else raw


def _strip_terminator_text(text: str) -> str:
    if text.endswith("\n"):
        text = text[:-1]
    return text[:-1] if text.endswith("\r") else text


def _readable(raw: bytes) -> str:
    """The text as a person can read and fix it: an invalid byte shows as `\\xe9`."""
    return _strip_terminator(raw).decode("utf-8", "backslashreplace")


def _invalid_byte(text: bytes, delimiter: str, header: list[str]) -> str:
    values = split_fields(_decode(text)[0], delimiter)
    for column, value in zip(header, values, strict=False):
        for character in value:
            if "\udc80" <= character <= "\udcff":
                return f"not valid UTF-8: byte 0x{ord(character) - 0xDC00:02x} in column {column}"
    return "not valid UTF-8"


def _bare_carriage_return(text: bytes) -> bool:
    """Whether a carriage return stands outside any quoted value (the terminator already removed)."""
    if b"\r" not in text:
        return False
    quoted = False
    for byte in text:
        if byte == 0x22:
            quoted = not quoted
        elif byte == 0x0D and not quoted:
            return True
    return False


def _width_problem(found: int, width: int) -> tuple[str, str] | None:
    if found < width:
        return "MISSING COLUMNS", f"expected {width} values, found {found}"
    if found > width:
        return "TOO MANY COLUMNS", f"expected {width} values, found {found}"
    return None


@dataclass
class _Record:
    lines: list[tuple[int, bytes]]
    values: list[str] | None = None
    problem: tuple[str, str] | None = None
    valid_utf8: bool = True


def _gather(
    first: tuple[int, bytes], next_line: Callable[[], tuple[int, bytes] | None], delimiter: str
) -> _Record:
    """The record that starts on `first`, taking following lines while a quoted value is open."""
    record = _Record([first])
    pieces: list[str] = []
    size = 0
    line = first
    while True:
        piece, valid = _decode(line[1])
        pieces.append(piece)
        record.valid_utf8 &= valid
        size += len(line[1])
        if len(pieces) == 1 or QUOTE in piece:  # only a quote can close the open value
            try:
                record.values = split_fields(_strip_terminator_text("".join(pieces)), delimiter)
                return record
            except _QuoteStillOpen:
                pass
            except _Malformed as malformed:
                record.problem = (malformed.error_type, malformed.message)
                return record
        line = next_line()
        if line is None or size + len(line[1]) > MAX_RECORD_BYTES:
            record.problem = ("UNQUOTED VALUE", UNTERMINATED_QUOTE)
            if line is not None:
                record.lines.append(line)
            return record
        record.lines.append(line)


def split_csv_by_line(path: Path, delimiter: str, header: list[str], accepted: BinaryIO) -> LineReadResult:
    """Sort every record after the header into accepted (written to `accepted` as
    `<line number><delimiter><record>\\n`, for DuckDB to parse) or rejected (with its reason).

    A quoted value may span lines (legal CSV). When the lines gathered for it do not make one valid
    row (the quote never closes, or closes into a malformed row), only the line that opened it is
    rejected and reading resumes on the next line, so a stray quote costs one line, never the rows
    after it.
    """
    result = LineReadResult()
    width = len(header)
    separator = delimiter.encode()
    write = accepted.write
    accepted = 0
    put_back: deque[tuple[int, bytes]] = deque()  # lines read ahead for a record that did not form
    with _physical_lines(path) as physical:

        def next_line() -> tuple[int, bytes] | None:
            return put_back.popleft() if put_back else next(physical, None)

        while (first := next_line()) is not None:
            line_number, raw = first
            if b'"' not in raw:  # the common case, kept to bytes operations: one line, one record
                text = raw.rstrip(b"\r\n")
                if not text:
                    continue
                found = text.count(separator) + 1
                problem = None
                if b"\r" in text:
                    problem = ("UNQUOTED VALUE", BARE_CARRIAGE_RETURN)
                elif found != width and not (found == width + 1 and text.endswith(separator)):
                    problem = _width_problem(found, width)
                else:
                    try:
                        text.decode("utf-8")
                    except UnicodeDecodeError:
                        problem = ("INVALID ENCODING", _invalid_byte(text, delimiter, header))
                if problem is None:
                    write(b"%d%b%b\n" % (line_number, separator, text))
                    accepted += 1
                else:
                    result.rejected.append(RejectedLine(line_number, *problem, _readable(raw)))
                continue
            record = _gather(first, next_line, delimiter)
            if record.values is not None:
                values = record.values
                if len(values) == width + 1 and values[-1] == "":
                    values = values[:-1]
                record.problem = _width_problem(len(values), width)
            if record.problem and len(record.lines) > 1:
                put_back.extendleft(reversed(record.lines[1:]))
                reason = record.problem[1] if record.problem[1] == UNTERMINATED_QUOTE else STRAY_QUOTE
                result.rejected.append(RejectedLine(line_number, "UNQUOTED VALUE", reason, _readable(raw)))
                continue
            result.continuation_line_numbers += [n for n, line in record.lines[1:] if not _is_blank(line)]
            text = _strip_terminator(b"".join(line for _, line in record.lines))
            if record.problem is None and _bare_carriage_return(text):
                record.problem = ("UNQUOTED VALUE", BARE_CARRIAGE_RETURN)
            if record.problem is None and not record.valid_utf8:
                record.problem = ("INVALID ENCODING", _invalid_byte(text, delimiter, header))
            if record.problem is None:
                write(b"%d%b%b\n" % (line_number, separator, text))
                accepted += 1
            else:
                result.rejected.append(RejectedLine(line_number, *record.problem, _readable(text)))
    result.accepted = accepted
    return result
