"""The mapping on the first 20,000 lines of the real export: the revenue identity holds to the
penny on real dirt, every landed file is what the contract expects, and the same lines under the
Online Retail II column names map identically once only the mapping file is edited. Skipped, with
the reason, where the shared data set is absent."""

from __future__ import annotations

import pandas as pd
import pytest

from examples.online_retail.config import load_mapping, read_export
from examples.online_retail.mapping import map_online_retail
from examples.online_retail.output import (
    contract_columns,
    header_matches_contract,
    landed_amounts,
    revenue_check,
    write_landing,
)

CONFIG = load_mapping()
SOURCE = CONFIG.default_source()
ROWS = 20_000
ONLINE_RETAIL_II = {"InvoiceNo": "Invoice", "UnitPrice": "Price", "CustomerID": "Customer ID"}

pytestmark = pytest.mark.skipif(
    not SOURCE.is_file(), reason=f"the shared data set is absent: {CONFIG.missing_source(SOURCE)}"
)


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    mapping = map_online_retail(read_export(SOURCE, CONFIG, limit=ROWS), CONFIG)
    landing = tmp_path_factory.mktemp("online_retail") / "landing"
    write_landing(mapping.tables, landing)
    return mapping, landing


def test_every_source_line_is_accounted_for(mapped):
    mapping, _ = mapped
    report = mapping.report
    assert report["rows_in"] == ROWS
    assert sum(report["lines_by_category"].values()) == ROWS
    assert report["lines_by_category"]["unknown_code"] == 0
    assert report["rows_out"]["orders/order_items"] <= report["lines_by_category"]["product_sale"]


def test_landed_revenue_is_source_revenue_minus_netted_cancellations(mapped):
    mapping, landing = mapped
    check = revenue_check(landed_amounts(landing), mapping.expected)
    assert check["balanced_to_the_penny"], check
    amounts = mapping.report["amounts_gbp"]
    assert check["order_lines_revenue"]["landed_gbp"] == pytest.approx(
        amounts["source_product_revenue"] - amounts["netted_product_cancellations"], abs=0.005
    )
    assert amounts["netted_product_cancellations"] > 0


def test_every_file_has_the_contract_header_and_valid_values(mapped):
    _, landing = mapped
    columns = contract_columns()
    assert header_matches_contract(landing) == dict.fromkeys(
        ["catalog/products", "crm/contacts", "orders/order_items", "orders/orders"], True
    )
    orders = pd.read_csv(landing / "orders" / "orders.csv", dtype=str, keep_default_na=False)
    items = pd.read_csv(landing / "orders" / "order_items.csv", dtype=str, keep_default_na=False)
    contacts = pd.read_csv(landing / "crm" / "contacts.csv", dtype=str, keep_default_na=False)
    products = pd.read_csv(landing / "catalog" / "products.csv", dtype=str, keep_default_na=False)
    assert list(orders.columns) == list(columns["orders/orders"])
    assert not orders.duplicated(["order_id", "updated_at"]).any()
    assert not orders["order_id"].str.startswith("C").any()
    assert orders["ordered_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    assert (orders["updated_at"] >= orders["ordered_at"]).all()
    assert set(orders["status"]) <= {"completed", "cancelled"}
    assert (orders["total"].astype(float) >= 0).all()
    assert set(items["order_id"]) <= set(orders["order_id"])
    assert (items["quantity"].astype(int) > 0).all() and (items["unit_price"].astype(float) > 0).all()
    assert set(items["product_id"].str.upper()) <= set(products["product_id"])
    assert not contacts.duplicated(["contact_id", "updated_at"]).any() and products["product_id"].is_unique
    first = contacts.drop_duplicates("contact_id")
    assert (first["updated_at"] == first["signup_at"]).all(), "a contact is known from its first invoice"
    assert set(orders["contact_id"]) - {""} <= set(contacts["contact_id"])


def test_online_retail_ii_column_names_need_only_a_mapping_edit(mapped, tmp_path):
    sample = read_export(SOURCE, CONFIG, limit=ROWS).rename(columns=ONLINE_RETAIL_II)
    renamed_source = tmp_path / "online_retail_ii.parquet"
    sample.to_parquet(renamed_source, index=False)
    text = CONFIG.path.read_text()
    for old, new in ONLINE_RETAIL_II.items():
        text = text.replace(f": {old} ", f": {new!r} ", 1)
    renamed_mapping = tmp_path / "mapping.yml"
    renamed_mapping.write_text(text)
    config = load_mapping(renamed_mapping)
    mapping = map_online_retail(read_export(renamed_source, config), config)
    expected, _ = mapped
    for name, table in expected.tables.items():
        pd.testing.assert_frame_equal(mapping.tables[name], table, obj=name)
