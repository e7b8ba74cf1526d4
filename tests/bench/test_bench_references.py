"""The three-way equality of issue 12: on a tiny clean warehouse (datagen --dirt none, one dbt
build of the models the core marts need, the bench's own build path), the hand-written DuckDB
floor and the pandas reference compute the same customer profiles, RFM, engagement tiers and
segment membership as dbt (bench/references/compare.py says what "the same" means). Clean data,
because the references skip identity resolution and dirt handling; dbt runs unchanged. The clean
demo has only completed USD orders landed once and one version per contact, so the fixture adds
the business cases the marts have rules for (not dirt): a refund re-exported before as_of and one
after it, a refunded order of someone who never bought, a EUR order, and a contact's later versions
before and after as_of.

Cost: 59 to 91 s measured on the shared 2-core machine at load average 5 to 13, almost all of it
the fixture (generation, landing step, dbt parse and a build of the 63 seeds, models and hooks);
each reference takes under 1 s, the dirty demo for the refusal tests about 6 s."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from bench.bench_references import AS_OF, build_with_dbt, disagreements
from bench.references.compare import compare, dbt_marts
from bench.references.floor import run_floor
from bench.references.inputs import SEGMENTS, inputs_for
from bench.references.pandas_marts import customer_keys, run_pandas
from warehouse.context import PROJECT_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("references")
    landing = root / "generated"
    command = [sys.executable, "-m", "datagen", "--scale", "tiny", "--seed", "7", "--dirt", "none"]
    subprocess.run(
        [*command, "--as-of", AS_OF, "--out", str(landing), "--quiet"], cwd=PROJECT_DIR, check=True
    )
    _add_business_cases(landing)
    project, _ = build_with_dbt(landing, root)
    inputs = inputs_for(project.landing, dt.datetime.fromisoformat(AS_OF))
    computed = {"floor": run_floor(inputs), "pandas": run_pandas(inputs)}
    return project.root / "warehouse.duckdb", computed, landing


def _append(path: Path, change) -> None:
    """Append to a CSV landing file a changed copy of the first data row: change(row) -> rows."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    with open(path, "a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writerows(change(rows))


def _add_business_cases(landing: Path) -> None:
    with open(landing / "crm" / "contacts.csv", newline="") as handle:
        contact_ids = [row["contact_id"] for row in csv.DictReader(handle)]

    def orders(rows):
        first, second = rows[0], rows[1]
        buyers = {row["contact_id"] for row in rows}
        never_bought = next(c for c in contact_ids if c not in buyers)
        refunded_only_order = first | {
            "order_id": "O9999999903",
            "contact_id": never_bought,
            "email": "",
            "status": "refunded",
            "updated_at": "2025-03-01T10:00:00Z",
            "ordered_at": "2025-02-20T10:00:00Z",
        }
        refunded = first | {"status": "refunded", "updated_at": "2024-07-20T10:00:00Z"}
        refunded_later = second | {"status": "refunded", "updated_at": "2026-07-15T10:00:00Z"}
        euro = first | {
            "order_id": "O9999999901",
            "ordered_at": "2026-06-01T12:00:00Z",
            "updated_at": "2026-06-01T12:00:00Z",
            "currency": "EUR",
            "subtotal": "100.00",
            "discount": "0.00",
            "shipping": "0.00",
            "total": "100.00",
        }
        return [refunded, refunded_later, euro, refunded_only_order]

    def order_items(rows):
        return [
            rows[0] | {"order_id": "O9999999901", "line_number": "1", "quantity": "1", "unit_price": "100.00"}
        ]

    def contacts(rows):
        return [
            rows[0] | {"loyalty_tier": "gold", "city": "Springfield", "updated_at": "2026-06-15T08:00:00Z"},
            rows[1] | {"loyalty_tier": "platinum", "updated_at": "2026-07-10T08:00:00Z"},
        ]

    _append(landing / "orders" / "orders.csv", orders)
    _append(landing / "orders" / "order_items.csv", order_items)
    _append(landing / "crm" / "contacts.csv", contacts)


def test_floor_and_pandas_compute_the_dbt_marts(built):
    warehouse, computed, landing = built
    agreements = disagreements(computed, warehouse)
    for agreement in agreements.values():
        assert agreement, f"{agreement.reference} disagrees with dbt:\n" + "\n".join(agreement.problems)
    floor = computed["floor"]
    assert len(floor["customer_profiles"]) == 300
    assert (floor["customer_profiles"]["lifetime_orders"] > 0).sum() > 100
    assert floor["customer_rfm"]["rfm_segment"].nunique() >= 5
    assert set(floor["segment_membership"]["segment_name"]) >= set(SEGMENTS) - {"engaged_but_inactive"}
    profiles = floor["customer_profiles"]
    assert profiles["refunded_orders"].sum() == 2, "the refund recorded after as_of is not yet a refund"
    with open(landing / "crm" / "contacts.csv", newline="") as handle:
        unchanged = list(csv.DictReader(handle))[1]
    key = customer_keys(pd.Series([unchanged["contact_id"]]))[0]
    assert profiles.set_index("customer_key").loc[key, "loyalty_tier"] == unchanged["loyalty_tier"]
    assert (profiles["city"] == "Springfield").sum() == 1


def test_the_comparison_names_a_cent_too_much_a_missing_customer_and_a_wrong_tier(built):
    warehouse, computed, _ = built
    changed = {mart: frame.copy() for mart, frame in computed["pandas"].items()}
    profiles = changed["customer_profiles"]
    buyer = profiles.index[profiles["lifetime_orders"] > 0][0]
    profiles.loc[buyer, "lifetime_revenue"] += 0.02
    changed["customer_rfm"] = changed["customer_rfm"].iloc[1:]
    engagement = changed["customer_engagement"]
    engagement.loc[engagement.index[0], "engagement_tier"] = "Highly engaged?"
    columns = {mart: list(frame.columns) for mart, frame in computed["floor"].items()}
    problems = "\n".join(compare("pandas", changed, dbt_marts(warehouse, columns)).problems)
    assert "customer_profiles.lifetime_revenue: 1 rows differ" in problems
    assert "customer_rfm: 1 keys only in dbt" in problems
    assert "customer_engagement.engagement_tier: 1 rows differ" in problems


@pytest.mark.parametrize("reference", [run_floor, run_pandas], ids=["floor", "pandas"])
def test_the_references_refuse_a_guest_order_rather_than_drop_it(built, reference, tmp_path):
    _, _, landing = built
    copy = tmp_path / "landing"
    shutil.copytree(landing, copy)
    _append(
        copy / "orders" / "orders.csv", lambda rows: [rows[0] | {"order_id": "O9999999902", "contact_id": ""}]
    )
    with pytest.raises((duckdb.Error, ValueError), match="an order without contact_id"):
        reference(inputs_for(copy, dt.datetime.fromisoformat(AS_OF)))


@pytest.fixture(scope="module")
def dirty_landing(tmp_path_factory) -> Path:
    landing = tmp_path_factory.mktemp("dirty") / "landing"
    command = [sys.executable, "-m", "datagen", "--scale", "tiny", "--seed", "7", "--out", str(landing)]
    subprocess.run([*command, "--quiet"], cwd=PROJECT_DIR, check=True, capture_output=True)
    return landing


@pytest.mark.parametrize("reference", [run_floor, run_pandas], ids=["floor", "pandas"])
def test_the_references_refuse_the_dirty_demo(reference, dirty_landing):
    with pytest.raises((duckdb.Error, ValueError)):
        reference(inputs_for(dirty_landing, dt.datetime.fromisoformat(AS_OF)))
