"""Writing the mapped tables as landing files and proving, from the files themselves, that the money
in them is the money of the export.

The landing folder is rebuilt on every run in a temporary sibling folder and swapped in at the end,
so the pipeline never reads a half-written mapping and stale files from an older mapping never
linger beside new ones.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import pandas as pd

from examples.online_retail.lines import to_pounds
from landing.contract import load_contract


def contract_columns() -> dict[str, tuple[str, ...]]:
    """Every contract table's columns in contract order, from the source YAML the pipeline reads."""
    return {table.name: table.columns for table in load_contract()}


def landing_path(landing_dir: Path, name: str) -> Path:
    source, table = name.split("/")
    return landing_dir / source / f"{table}.csv"


def write_landing(tables: dict[str, pd.DataFrame], landing_dir: Path) -> dict[str, Path]:
    """Each table as `<source>/<table>.csv` with every contract column in contract order (blank
    where the export has nothing), header first; the whole folder replaced atomically."""
    columns = contract_columns()
    for name, frame in tables.items():
        unknown = sorted(set(frame.columns) - set(columns[name]))
        if unknown:
            raise ValueError(f"{name}: columns {unknown} are not in the contract")
    landing_dir = landing_dir.resolve()
    landing_dir.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{landing_dir.name}-new-", dir=landing_dir.parent))
    building.chmod(0o755)  # mkdtemp makes it private; the landing folder is an ordinary one
    retired = landing_dir.parent / f".{landing_dir.name}-old"
    try:
        for name, frame in tables.items():
            path = landing_path(building, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            full = frame.reindex(columns=list(columns[name]), fill_value="")
            full.to_csv(path, index=False, lineterminator="\n", na_rep="")
        shutil.rmtree(retired, ignore_errors=True)
        if landing_dir.exists():
            landing_dir.rename(retired)
        building.rename(landing_dir)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    return {name: landing_path(landing_dir, name) for name in tables}


def _thousandths(text: str) -> int:
    return int(Decimal(text or "0") * 1000)


def landed_amounts(landing_dir: Path) -> dict[str, int]:
    """Money in the landed order files, read back as text, in thousandths of a pound: the lines,
    and each order's latest version (the one written last, as staging keeps it)."""
    amounts = dict.fromkeys(("item_revenue", "subtotal", "discount", "shipping", "total"), 0)
    with open(landing_path(landing_dir, "orders/order_items"), newline="") as handle:
        for row in csv.DictReader(handle):
            amounts["item_revenue"] += int(row["quantity"]) * _thousandths(row["unit_price"])
    latest: dict[str, dict] = {}
    with open(landing_path(landing_dir, "orders/orders"), newline="") as handle:
        for row in csv.DictReader(handle):
            held = latest.get(row["order_id"])
            if held is None or (row["updated_at"] or row["ordered_at"]) >= (
                held["updated_at"] or held["ordered_at"]
            ):
                latest[row["order_id"]] = row
    for row in latest.values():
        for column in ("subtotal", "discount", "shipping", "total"):
            amounts[column] += _thousandths(row[column])
    return amounts


def revenue_check(landed: dict[str, int], expected: dict[str, int]) -> dict:
    """Landed product revenue (order lines and order subtotals) = the export's product revenue
    minus netted cancellations; landed shipping likewise; totals = subtotal - discount + shipping."""
    checks = {
        "order_lines_revenue": (landed["item_revenue"], expected["product_revenue"]),
        "order_subtotals": (landed["subtotal"], expected["product_revenue"]),
        "order_shipping": (landed["shipping"], expected["shipping"]),
        "order_totals": (landed["total"], landed["subtotal"] - landed["discount"] + landed["shipping"]),
    }
    result = {
        name: {
            "landed_gbp": to_pounds(found),
            "expected_gbp": to_pounds(wanted),
            "difference_gbp": to_pounds(found - wanted),
            "balanced": found == wanted,
        }
        for name, (found, wanted) in checks.items()
    }
    result["balanced_to_the_penny"] = all(check["balanced"] for check in result.values())
    return result


def header_matches_contract(landing_dir: Path) -> dict[str, bool]:
    """Whether every written file's header is exactly its table's contract columns."""
    columns = contract_columns()
    matches = {}
    for path in sorted(landing_dir.glob("*/*.csv")):
        name = f"{path.parent.name}/{path.stem}"
        with open(path, newline="") as handle:
            matches[name] = tuple(next(csv.reader(handle))) == columns[name]
    return matches


def write_json(path: Path, document: dict) -> None:
    """Written beside its final name and renamed, so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    os.replace(partial, path)
