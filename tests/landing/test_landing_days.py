"""landing.days splits a landing folder by day the way extract jobs deliver it: every row lands
exactly once, in the batch of the day its own time names (order lines follow their order), under a
file name the landing step reads as the same table; what has no usable day stays in the history."""

from __future__ import annotations

import csv
import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from landing.days import _table_of, split_landing_by_day

DAY_1, DAY_2 = date(2026, 6, 28), date(2026, 6, 29)


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


def read_csv_rows(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))[1:]


def landing_folder(root):
    write_csv(
        root / "crm" / "contacts.csv",
        ["contact_id", "email", "updated_at"],
        [
            ["c1", "a@x.com", "2026-06-28T10:00:00Z"],
            ["c2", "b@x.com", "2025-01-01"],
            ["c3", "c@x.com", "junk"],
        ],
    )
    write_csv(
        root / "orders" / "orders.csv",
        ["order_id", "contact_id", "ordered_at"],
        [["o1", "c1", "2026-06-29 08:00:00"], ["o2", "c2", "2024-05-05"]],
    )
    write_csv(root / "orders" / "order_items.csv", ["order_id", "product_id"], [["o1", "p1"], ["o2", "p2"]])
    events = pa.table(
        {"event_id": ["w1", "w2"], "event_at": ["2026-06-28T23:59:59Z", "2026-06-01T00:00:00Z"]}
    )
    (root / "web" / "events").mkdir(parents=True)
    pq.write_table(events, root / "web" / "events" / "part-00000.parquet")
    (root / "email" / "events").mkdir(parents=True)
    lines = [json.dumps({"event_id": "e1", "event_at": "2026-06-29T01:00:00Z"}), "{not json", ""]
    (root / "email" / "events" / "part-00000.jsonl").write_text("\n".join(lines) + "\n")
    write_csv(root / "catalog" / "products.csv", ["product_id"], [["p1"], ["p2"]])


def test_each_row_lands_once_on_its_own_day(tmp_path):
    landing_folder(tmp_path / "landing")
    split = split_landing_by_day(tmp_path / "landing", tmp_path / "split", [DAY_1, DAY_2])
    history, day_1, day_2 = split.history, split.days[DAY_1], split.days[DAY_2]

    assert read_csv_rows(day_1 / "crm" / "contacts_2026-06-28.csv") == [
        ["c1", "a@x.com", "2026-06-28T10:00:00Z"]
    ]
    assert [row[0] for row in read_csv_rows(history / "crm" / "contacts.csv")] == ["c2", "c3"]
    assert read_csv_rows(day_2 / "orders" / "orders_2026-06-29.csv") == [["o1", "c1", "2026-06-29 08:00:00"]]
    assert read_csv_rows(day_2 / "orders" / "order_items_2026-06-29.csv") == [["o1", "p1"]]
    assert read_csv_rows(history / "orders" / "order_items.csv") == [["o2", "p2"]]
    day_events = pq.read_table(day_1 / "web" / "events" / "day-2026-06-28-part-00000.parquet")
    assert day_events.column("event_id").to_pylist() == ["w1"]
    assert pq.read_table(history / "web" / "events" / "part-00000.parquet").column(
        "event_id"
    ).to_pylist() == ["w2"]
    email_day = (day_2 / "email" / "events" / "day-2026-06-29-part-00000.jsonl").read_text()
    assert json.loads(email_day)["event_id"] == "e1"
    assert "{not json" in (history / "email" / "events" / "part-00000.jsonl").read_text()
    assert read_csv_rows(history / "catalog" / "products.csv") == [["p1"], ["p2"]]

    assert split.rows == {"history": 8, "2026-06-28": 2, "2026-06-29": 3}


def test_day_files_are_read_as_the_same_tables(tmp_path):
    landing_folder(tmp_path / "landing")
    split = split_landing_by_day(tmp_path / "landing", tmp_path / "split", [DAY_1, DAY_2])
    tables = {("crm", "contacts"), ("orders", "orders"), ("orders", "order_items"), ("web", "events")}
    tables.add(("email", "events"))
    found = {
        _table_of(path.relative_to(folder)) for folder in split.days.values() for path in folder.rglob("*.*")
    }
    assert found == tables
