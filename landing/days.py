"""Split a landing folder by day, so that a test or a benchmark can land data the way extract jobs do:
the history first, then one batch of files per day.

Each row goes to the day its own time column names (web and e-mail events: event_at, orders:
ordered_at, order lines: their order's day, contacts: updated_at, privacy requests: requested_at);
a row whose day is not one of `days` (earlier, later, or a time that does not start with an ISO
date) stays in the history, as do the catalog and the campaigns. The history keeps every file's
relative path; a day's rows of `<source>/<table>.<ext>` go to `<source>/<table>_<day>.<ext>`, and
those of a file under `<source>/<table>/` to `day-<day>-<name>` beside it, names the landing step
reads as the same table. JSON lines are copied byte for byte; CSV rows go through the csv module
(a malformed line stays malformed); Parquet keeps its schema.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from landing.contract import load_contract

# (source, table) -> the column whose day a row belongs to; order lines follow their order.
DAY_COLUMNS = {
    ("web", "events"): "event_at",
    ("email", "events"): "event_at",
    ("orders", "orders"): "ordered_at",
    ("crm", "contacts"): "updated_at",
    ("privacy", "requests"): "requested_at",
}
ISO_DAY = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})")
csv.field_size_limit(2**31 - 1)


@dataclass
class DaySplit:
    """Where each batch was written and how many rows it holds."""

    history: Path
    days: dict[date, Path]
    rows: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def share(self, day: date) -> float:
        total = sum(self.rows.values())
        return self.rows[day.isoformat()] / total if total else 0.0


def day_of(value: object) -> date | None:
    """The ISO date a time value starts with, None when it does not start with one."""
    if not isinstance(value, str):
        return None
    found = ISO_DAY.match(value)
    if not found:
        return None
    try:
        return date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        return None


def _table_of(relative: Path) -> tuple[str, str]:
    """(source, table) of a landing file, named as the landing step names them."""
    source = relative.parts[0]
    if len(relative.parts) > 2:
        return source, relative.parts[1]
    stem = relative.name.split(".", 1)[0]
    tables = sorted((t.table for t in load_contract() if t.source == source), key=len, reverse=True)
    return source, next((t for t in tables if stem == t or stem.startswith(f"{t}_")), stem)


def _day_path(relative: Path, day: date) -> Path:
    if len(relative.parts) > 2:
        return relative.with_name(f"day-{day.isoformat()}-{relative.name}")
    stem, _, suffix = relative.name.partition(".")
    return relative.with_name(f"{stem}_{day.isoformat()}.{suffix}")


def _read_csv(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as handle:
        rows = list(csv.reader(handle))
    return rows[0], rows[1:]


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def _order_days(source: Path) -> dict[str, date]:
    """The day of every order id, from the orders files (any format the generator writes)."""
    days: dict[str, date] = {}
    for path in sorted((source / "orders").rglob("*")):
        if not path.is_file() or _table_of(path.relative_to(source)) != ("orders", "orders"):
            continue
        if path.suffix == ".csv":
            header, rows = _read_csv(path)
            at, key = header.index("ordered_at"), header.index("order_id")
            pairs = [(row[key], row[at]) for row in rows if len(row) == len(header)]
        elif path.suffix == ".parquet":
            table = pq.read_table(path, columns=["order_id", "ordered_at"]).to_pydict()
            pairs = list(zip(table["order_id"], table["ordered_at"], strict=True))
        else:
            records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            pairs = [(r.get("order_id"), r.get("ordered_at")) for r in records]
        for order_id, ordered_at in pairs:
            found = day_of(ordered_at)
            if order_id and found:
                days[str(order_id).strip()] = found
    return days


def split_landing_by_day(source: Path, out: Path, days: list[date]) -> DaySplit:
    """Write `out/history/...` and `out/days/<day>/...` from the landing folder `source`."""
    wanted = set(days)
    split = DaySplit(out / "history", {day: out / "days" / day.isoformat() for day in days})
    order_days = _order_days(source)

    def day_for(table: tuple[str, str], record: dict) -> date | None:
        if table == ("orders", "order_items"):
            found = order_days.get(str(record.get("order_id") or "").strip())
        elif table in DAY_COLUMNS:
            found = day_of(record.get(DAY_COLUMNS[table]))
        else:
            found = None
        return found if found in wanted else None

    def target(relative: Path, day: date | None) -> Path:
        return split.history / relative if day is None else split.days[day] / _day_path(relative, day)

    for path in sorted(p for p in source.rglob("*") if p.is_file() and not p.name.startswith(".")):
        relative = path.relative_to(source)
        table = _table_of(relative)
        if path.suffix == ".csv":
            header, rows = _read_csv(path)
            batches: dict[date | None, list[list[str]]] = defaultdict(list)
            for row in rows:
                record = dict(zip(header, row, strict=False)) if len(row) == len(header) else {}
                batches[day_for(table, record)].append(row)
            batches.setdefault(None, [])
            for day, batch in batches.items():
                if batch or day is None:
                    _write_csv(target(relative, day), header, batch)
                split.rows[day.isoformat() if day else "history"] += len(batch)
        elif path.suffix == ".parquet":
            data = pq.read_table(path)
            records = data.select([c for c in data.column_names if c in ("order_id", *DAY_COLUMNS.values())])
            assigned = [day_for(table, r) for r in records.to_pylist()]
            for day in {None, *assigned}:
                mask = pa.array([d == day for d in assigned], type=pa.bool_())
                batch = data.filter(mask)
                if batch.num_rows or day is None:
                    destination = target(relative, day)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    pq.write_table(batch, destination)
                split.rows[day.isoformat() if day else "history"] += batch.num_rows
        elif path.suffix == ".jsonl":
            batches_raw: dict[date | None, list[bytes]] = defaultdict(list)
            for line in path.read_bytes().splitlines(keepends=True):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                day = day_for(table, record) if isinstance(record, dict) else None
                batches_raw[day].append(line)
            batches_raw.setdefault(None, [])
            for day, lines in batches_raw.items():
                if lines or day is None:
                    destination = target(relative, day)
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    destination.write_bytes(b"".join(lines))
                split.rows[day.isoformat() if day else "history"] += sum(1 for x in lines if x.strip())
        else:
            destination = split.history / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes())
    return split
