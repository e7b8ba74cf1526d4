"""`python -m landing.purge` (`make purge-landing`): rewrite the landing files without the rows of
erased people.

The landing files are raw inputs the project does not own: the pipeline never changes them, and
staging drops an erased person's rows on every run (privacy.erasure_tombstones). Whoever keeps the
files may also want the person gone from them; this rewrites each file in place (atomically, a
backup only with --backup) without every record that names an erased person, recognized with the
warehouse's own function privacy.is_erased — the same normalization and salted hash as staging. A
CSV or JSON-lines file keeps every other line byte for byte; a Parquet file is rewritten.

It refuses while an erased address has not yet been sent to the ESPs (the files are then the only
place its plain text remains for the deletion request), unless --force."""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from landing.contract import LandingTable, load_contract
from landing.files import discover_files, read_csv_header
from warehouse.context import connect, landing_dir, warehouse_path

TOKEN_SPLIT = re.compile(r"[^A-Za-z0-9._%+@'-]+")
MAX_RECORD_LINES = 1000


@dataclass
class PurgedFile:
    path: Path
    records_before: int
    records_removed: int


def _tokens(text: str) -> list[str]:
    return [token for token in TOKEN_SPLIT.split(text) if token]


def _erased_values(con: duckdb.DuckDBPyConnection, values: set[str], kinds: list[str]) -> set[str]:
    """The values that, read as any of `kinds`, match an erasure tombstone."""
    if not values or not kinds:
        return set()
    con.register("purge_values", pd.DataFrame({"value": sorted(values)}))
    condition = " or ".join(f"privacy.is_erased('{kind}', value)" for kind in kinds)
    found = con.execute(f"select value from purge_values where {condition}").fetchall()
    con.unregister("purge_values")
    return {value for (value,) in found}


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        raw = gzip.decompress(raw)
    return raw.decode("utf-8", errors="surrogateescape")


def _write_text(path: Path, text: str, backup: bool) -> None:
    data = text.encode("utf-8", errors="surrogateescape")
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data)
    _replace(path, lambda tmp: tmp.write_bytes(data), backup)


def _replace(path: Path, write, backup: bool) -> None:
    if backup:
        shutil.copy2(path, path.with_name(path.name + ".bak"))
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".purging", dir=path.parent)
    os.close(handle)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _csv_records(lines: list[str]) -> list[list[str]]:
    """Physical lines grouped into records: a line whose quotes are left open takes the following
    lines (up to a cap, as the landing reader does with a broken quote)."""
    records, current = [], []
    for line in lines:
        current.append(line)
        if "".join(current).count('"') % 2 == 0 or len(current) >= MAX_RECORD_LINES:
            records.append(current)
            current = []
    if current:
        records.extend([line] for line in current)
    return records


def _record_values(text: str, delimiter: str, header: list[str], columns: list[str]) -> list[str]:
    """The identifier columns' values of a well-formed record, else every token of its text."""
    try:
        values = next(csv.reader([text.rstrip("\r\n")], delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration):
        values = []
    if len(values) == len(header):
        return [values[header.index(c)] for c in columns if c in header]
    return _tokens(text)


def _purge_csv(con, path: Path, table: LandingTable, backup: bool) -> PurgedFile:
    header, delimiter = read_csv_header(path)
    kinds = [kind for kind, _ in table.identifiers]
    columns = [column for _, column in table.identifiers]
    lines = _read_text(path).splitlines(keepends=True)
    records = _csv_records(lines[1:])
    values = [_record_values("".join(r), delimiter, header, columns) for r in records]
    erased = _erased_values(con, {v for vs in values for v in vs}, kinds)
    kept = [r for r, vs in zip(records, values, strict=True) if not erased & set(vs)]
    removed = len(records) - len(kept)
    if removed:
        _write_text(path, lines[0] + "".join("".join(r) for r in kept), backup)
    return PurgedFile(path, len(records), removed)


def _purge_jsonl(con, path: Path, table: LandingTable, backup: bool) -> PurgedFile:
    kinds = [kind for kind, _ in table.identifiers]
    columns = [column for _, column in table.identifiers]
    lines = _read_text(path).splitlines(keepends=True)
    values = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if isinstance(record, dict):
            lowered = {str(k).strip().lower(): v for k, v in record.items()}
            values.append([str(lowered[c]) for c in columns if lowered.get(c) is not None])
        else:
            values.append(_tokens(line))
    erased = _erased_values(con, {v for vs in values for v in vs}, kinds)
    kept = [line for line, vs in zip(lines, values, strict=True) if not erased & set(vs)]
    removed = sum(1 for line in lines if line.strip()) - sum(1 for line in kept if line.strip())
    if removed:
        _write_text(path, "".join(kept), backup)
    return PurgedFile(path, sum(1 for line in lines if line.strip()), removed)


def _purge_parquet(con, path: Path, table: LandingTable, backup: bool) -> PurgedFile:
    data = pq.read_table(path)
    by_lower = {name.strip().lower(): name for name in data.column_names}
    present = [(kind, by_lower[column]) for kind, column in table.identifiers if column in by_lower]
    if not present:
        return PurgedFile(path, data.num_rows, 0)
    con.register("purge_rows", data)
    condition = " or ".join(
        f"privacy.is_erased('{kind}', cast(\"{column}\" as varchar))" for kind, column in present
    )
    keep = con.execute(f"select coalesce(not ({condition}), true) from purge_rows").fetchnumpy()
    con.unregister("purge_rows")
    mask = next(iter(keep.values())).astype(bool)
    removed = int((~mask).sum())
    if removed:
        _replace(path, lambda tmp: pq.write_table(data.filter(mask), tmp), backup)
    return PurgedFile(path, data.num_rows, removed)


PURGERS = {"csv": _purge_csv, "jsonl": _purge_jsonl, "parquet": _purge_parquet}


def pending_erasures(con: duckdb.DuckDBPyConnection) -> int:
    """Erased addresses still in the files that no ESP deletion has been logged for."""
    has_targets = con.execute(
        "select count(*) from duckdb_views() "
        "where schema_name = 'restricted' and view_name = 'erasure_targets'"
    ).fetchone()[0]
    if not has_targets:
        return 0
    has_log = con.execute(
        "select count(*) from duckdb_tables() where schema_name = 'activation' and table_name = 'erasure_log'"
    ).fetchone()[0]
    done = "select email_hash from activation.erasure_log where status = 'done'" if has_log else "select null"
    return con.execute(
        f"select count(*) from restricted.erasure_targets where email_hash not in ({done})"
    ).fetchone()[0]


def purge_landing(
    warehouse: Path, landing: Path, *, backup: bool = False, force: bool = False
) -> list[PurgedFile]:
    """Rewrite every landing file without the records of erased people; returns what each lost."""
    with connect(Path(warehouse)) as con:
        ready = con.execute(
            "select count(*) from duckdb_functions() "
            "where schema_name = 'privacy' and function_name = 'is_erased'"
        ).fetchone()[0]
        if not ready:
            raise RuntimeError(
                f"{warehouse} has no erasure tombstones yet: run the pipeline (make run) before purging"
            )
        pending = pending_erasures(con)
        if pending and not force:
            raise RuntimeError(
                f"{pending} erased address(es) have not been sent to every ESP yet, and the landing "
                "files are the only place their text remains for the deletion request: run the "
                "pipeline first (or pass --force)"
            )
        purged = []
        for table in load_contract():
            if not table.identifiers:
                continue
            for found in discover_files(landing, table):
                purged.append(PURGERS[found.format](con, found.path, table, backup))
    return purged


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=warehouse_path())
    parser.add_argument("--landing-dir", type=Path, default=landing_dir())
    parser.add_argument("--backup", action="store_true", help="keep each rewritten file as <name>.bak")
    parser.add_argument("--force", action="store_true", help="purge even while ESP deletions are pending")
    args = parser.parse_args(argv)
    try:
        purged = purge_landing(args.warehouse, args.landing_dir, backup=args.backup, force=args.force)
    except RuntimeError as error:
        print(f"purge-landing: {error}", file=sys.stderr)
        return 1
    removed = [p for p in purged if p.records_removed]
    for file in removed:
        print(f"{file.path}: removed {file.records_removed} of {file.records_before} record(s)")
    print(
        f"{sum(p.records_removed for p in purged)} record(s) of erased people "
        f"removed from {len(removed)} file(s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
