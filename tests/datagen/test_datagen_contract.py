"""Every file matches the contract: layout, names, columns in order, and the format's encoding rules."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest

from datagen.config import SOURCES
from tests.datagen.helpers import contract, files_of, run

MIXED = {("web", "events"): "parquet", ("email", "events"): "jsonl"}
CHUNKED = {("web", "events"), ("email", "events")}


def test_generator_tables_are_exactly_the_contract_tables():
    assert {(s, t) for s, tables in SOURCES.items() for t in tables} == set(contract())


def _check_file(path, fmt, columns):
    if fmt == "csv":
        raw = path.read_bytes()
        assert b"\r" not in raw.replace(b'\r"', b"")  # \n line endings (no CR outside quoted values)
        content = raw.decode("utf-8")
        assert content.split("\n", 1)[0] == ",".join(columns)
        rows = list(csv.reader(io.StringIO(content, newline="")))
        assert all(len(row) == len(columns) for row in rows), path
        return len(rows) - 1
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.column_names == columns
        assert all(str(field.type) == "string" for field in table.schema)
        return table.num_rows
    lines = path.read_text(encoding="utf-8").splitlines()
    for line in lines:
        record = json.loads(line)
        assert list(record) == columns
        assert all(value is None or isinstance(value, str) for value in record.values())
    return len(lines)


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_single_format_runs_write_every_table_in_that_format(tmp_path, fmt):
    config = run(tmp_path, scale="tiny", contacts=150, seed=3, format=fmt)
    for (source, table), columns in contract().items():
        paths = files_of(config.out, source, table)
        assert paths, (source, table)
        if (source, table) in CHUNKED:
            assert all(p.parent.name == table and p.name.startswith("part-") for p in paths)
        else:
            assert [p.name for p in paths] == [f"{table}.{fmt}"]
        assert all(p.suffix == f".{fmt}" for p in paths)
        assert sum(_check_file(p, fmt, columns) for p in paths) > 0 or table == "requests"


def test_mixed_format_layout(dirty):
    landing = dirty.out
    written = sorted(p.relative_to(landing).as_posix() for p in landing.rglob("*") if p.is_file())
    for (source, table), columns in contract().items():
        fmt = MIXED.get((source, table), "csv")
        paths = files_of(landing, source, table)
        if (source, table) in CHUNKED:
            assert len(paths) > 10 and all(p.name.startswith("part-") for p in paths)
        else:
            assert [p.relative_to(landing).as_posix() for p in paths] == [f"{source}/{table}.{fmt}"]
        for path in paths:
            _check_file(path, fmt, columns)
    assert not [name for name in written if "/." in name or name.endswith(".partial")]
    assert not (landing / "ground_truth").exists()


def test_csv_quotes_commas_quotes_and_edge_spaces(dirty):
    products = (dirty.out / "catalog" / "products.csv").read_text(encoding="utf-8")
    contacts = (dirty.out / "crm" / "contacts.csv").read_text(encoding="utf-8")
    assert '"Washington, D.C."' in contacts or '"Backpack, 30 L"' in products or 'Knife, 8""' in products
    parsed = list(csv.DictReader(io.StringIO(contacts, newline="")))
    padded = [row["email"] for row in parsed if row["email"] != row["email"].strip()]
    assert padded, "the default dirt pads some e-mails with spaces"
    for email in padded:
        assert f'"{email}"' in contacts  # quoted so that readers keep the spaces
