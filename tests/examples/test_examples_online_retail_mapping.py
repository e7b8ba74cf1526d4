"""The Online Retail mapping on small hand-made exports: each rule of the mapping on the case that
motivates it, so a change to one decision fails here rather than as a drift in the figures."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from examples.online_retail.config import DEFAULT_MAPPING, MappingError, load_mapping, read_export
from examples.online_retail.lines import CodeKind, LineCategory, code_kind, local_to_utc, money
from examples.online_retail.mapping import map_online_retail
from examples.online_retail.output import (
    contract_columns,
    header_matches_contract,
    landed_amounts,
    revenue_check,
    write_landing,
)


def line(invoice, code, quantity, price, at="2011-01-10 10:00:00", customer=17850, description="ITEM", **kw):
    """One export line; CustomerID None is a guest."""
    return {
        "InvoiceNo": invoice,
        "StockCode": code,
        "Description": description,
        "Quantity": quantity,
        "InvoiceDate": at,
        "UnitPrice": price,
        "CustomerID": np.nan if customer is None else float(customer),
        "Country": kw.get("country", "United Kingdom"),
    }


def export(*lines) -> pd.DataFrame:
    return pd.DataFrame(list(lines))


def mapped(*lines):
    """The mapping of an export of these lines."""
    return map_online_retail(export(*lines))


def by_order(mapping) -> dict[str, dict]:
    """Each order's latest version (the landed file holds one row per version)."""
    orders = mapping.tables["orders/orders"].drop_duplicates("order_id", keep="last")
    return orders.set_index("order_id").to_dict("index")


def versions_of(mapping, order_id: str) -> list[tuple[str, str, str, str]]:
    orders = mapping.tables["orders/orders"]
    chosen = orders[orders["order_id"] == order_id]
    return list(chosen[["updated_at", "status", "subtotal", "total"]].itertuples(index=False, name=None))


def items_of(mapping, order_id: str) -> list[tuple[str, str, str, str]]:
    items = mapping.tables["orders/order_items"]
    chosen = items[items["order_id"] == order_id]
    columns = ["line_number", "product_id", "quantity", "unit_price"]
    return list(chosen[columns].itertuples(index=False, name=None))


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("85123A", CodeKind.PRODUCT),
        ("15056BL", CodeKind.PRODUCT),
        ("22423", CodeKind.PRODUCT),
        ("DCGSSGIRL", CodeKind.PRODUCT),
        ("DCGS0076", CodeKind.PRODUCT),
        ("POST", CodeKind.SHIPPING),
        ("DOT", CodeKind.SHIPPING),
        ("C2", CodeKind.SHIPPING),
        ("D", CodeKind.DISCOUNT),
        ("M", CodeKind.ADJUSTMENT),
        ("BANK CHARGES", CodeKind.FEE),
        ("AMAZONFEE", CodeKind.FEE),
        ("GIFT_0001_20", CodeKind.VOUCHER),
        ("1234", CodeKind.UNKNOWN),
        ("NEWFEE", CodeKind.UNKNOWN),
    ],
)
def test_stock_codes_are_classified_by_a_documented_rule(code, kind):
    assert code_kind(code) == kind


def test_london_times_become_utc_across_both_clock_changes():
    # BST starts 2011-03-27 01:00 GMT and ends 2011-10-30 01:00 GMT.
    london = ZoneInfo("Europe/London")
    assert local_to_utc("2011-03-26 10:00:00", london).isoformat() == "2011-03-26T10:00:00"
    assert local_to_utc("2011-03-27 10:00:00", london).isoformat() == "2011-03-27T09:00:00"
    assert local_to_utc("2011-10-29 10:00:00", london).isoformat() == "2011-10-29T09:00:00"
    assert local_to_utc("2011-10-30 10:00:00", london).isoformat() == "2011-10-30T10:00:00"
    mapping = mapped(
        line("1", "22423", 1, 2.0, at="2011-03-26 10:00:00"),
        line("2", "22423", 1, 2.0, at="2011-03-27 10:00:00"),
    )
    orders = by_order(mapping)
    assert orders["1"]["ordered_at"] == "2011-03-26T10:00:00Z"
    assert orders["2"]["ordered_at"] == "2011-03-27T09:00:00Z"


def test_partial_cancellation_reduces_the_line_and_its_order():
    mapping = mapped(
        line("1", "22423", 10, 2.5, at="2011-01-10 10:00:00"),
        line("1", "85123A", 2, 1.25, at="2011-01-10 10:00:00"),
        line("C2", "22423", -4, 2.5, at="2011-01-12 09:00:00"),
    )
    assert items_of(mapping, "1") == [("1", "22423", "6", "2.50"), ("2", "85123A", "2", "1.25")]
    order = by_order(mapping)["1"]
    assert (order["status"], order["subtotal"], order["total"]) == ("completed", "17.50", "17.50")
    netting = mapping.report["cancellations"]["product_codes"]
    assert [netting[k] for k in ("lines_fully_netted", "quantity_netted", "quantity_unmatched")] == [1, 4, 0]
    assert mapping.report["amounts_gbp"]["netted_product_cancellations"] == 10.0


def test_a_cancellation_changes_its_order_only_from_when_it_happened():
    """The order as invoiced is a version of its own; the cancellation writes a later one. Netted
    into a single row, a backtest at 11 January would see a cancellation made on the 12th."""
    mapping = mapped(
        line("1", "22423", 10, 2.5, at="2011-01-10 10:00:00"),
        line("1", "POST", 1, 18.0, at="2011-01-10 10:00:00"),
        line("C2", "22423", -4, 2.5, at="2011-01-12 09:00:00"),
        line("C3", "22423", -6, 2.5, at="2011-01-20 09:00:00"),
        line("C3", "POST", -1, 18.0, at="2011-01-20 09:00:00"),
    )
    assert versions_of(mapping, "1") == [
        ("2011-01-10T10:00:00Z", "completed", "25.00", "43.00"),
        ("2011-01-12T09:00:00Z", "completed", "15.00", "33.00"),
        ("2011-01-20T09:00:00Z", "cancelled", "0.00", "0.00"),
    ]
    assert mapping.report["orders"]["rows"] == 1 and mapping.report["orders"]["versions"] == 3


def test_a_contact_is_known_from_its_first_invoice_not_dated_at_its_last():
    """A CRM record dated at the last invoice tells any earlier as_of "this customer buys later";
    the shop knew the customer from the first invoice, and learns a new country when it wins."""
    mapping = mapped(
        line("1", "22423", 1, 2.0, at="2011-01-10 10:00:00", country="France"),
        line("2", "22423", 1, 2.0, at="2011-03-10 10:00:00", country="Germany"),
        line("3", "22423", 1, 2.0, at="2011-05-10 10:00:00", country="Germany"),
        line("4", "22423", 1, 2.0, at="2011-09-10 10:00:00", country="France"),
    )
    contacts = mapping.tables["crm/contacts"]
    assert list(contacts.itertuples(index=False, name=None)) == [
        ("17850", "France", "2011-01-10T10:00:00Z", "2011-01-10T10:00:00Z"),
        ("17850", "Germany", "2011-01-10T10:00:00Z", "2011-05-10T09:00:00Z"),
    ]
    report = mapping.report["contacts"]
    assert (report["rows"], report["versions"], report["countries"]) == (1, 2, {"Germany": 1})


def test_full_cancellation_marks_the_order_cancelled_with_no_lines():
    mapping = mapped(
        line("1", "22423", 5, 2.0),
        line("1", "POST", 1, 18.0),
        line("C2", "22423", -5, 2.0, at="2011-01-10 10:05:00"),
        line("C2", "POST", -1, 18.0, at="2011-01-10 10:05:00"),
    )
    order = by_order(mapping)["1"]
    assert (order["status"], order["subtotal"], order["shipping"], order["total"]) == (
        "cancelled", "0.00", "0.00", "0.00",
    )  # fmt: skip
    assert items_of(mapping, "1") == []
    assert mapping.report["cancellations"]["purchase_lines_netted_to_zero"] == 2


def test_cancellation_spills_over_to_earlier_lines_latest_first_and_never_to_later_ones():
    mapping = mapped(
        line("1", "22423", 3, 1.0, at="2011-01-01 10:00:00"),
        line("2", "22423", 2, 1.5, at="2011-01-05 10:00:00"),
        line("C3", "22423", -4, 1.5, at="2011-01-06 10:00:00"),
        line("4", "22423", 9, 1.0, at="2011-01-07 10:00:00"),
    )
    assert items_of(mapping, "1") == [("1", "22423", "1", "1.00")]
    assert by_order(mapping)["2"]["status"] == "cancelled"
    assert items_of(mapping, "4") == [("1", "22423", "9", "1.00")]
    assert mapping.report["amounts_gbp"]["netted_product_cancellations"] == 5.0


def test_cancellations_that_cannot_be_netted_are_counted_and_left_out():
    mapping = mapped(
        line("1", "22423", 2, 1.0, customer=12347),
        # 2 of these 5 were bought in the export, 3 before it started
        line("C2", "22423", -5, 1.0, at="2011-01-11 10:00:00", customer=12347),
        # never bought in the export
        line("C3", "84879", -7, 1.0, customer=12348),
        # a guest's: no one to match
        line("C4", "84879", -1, 1.0, customer=None),
    )
    cancellations = mapping.report["cancellations"]
    assert cancellations["product_codes"]["lines_partly_netted"] == 1
    assert cancellations["product_codes"]["lines_unmatched"] == 2
    assert cancellations["product_codes"]["quantity_netted"] == 2
    assert cancellations["product_codes"]["quantity_unmatched"] == 3 + 7 + 1
    reasons = cancellations["lines_with_unmatched_quantity_by_reason"]
    assert reasons["guest: no customer to match"] == 1
    assert reasons["no earlier purchase of this code (bought before the export starts)"] == 1
    assert set(mapping.tables["orders/orders"]["order_id"]) == {"1"}
    assert set(mapping.tables["crm/contacts"]["contact_id"]) == {"12347", "12348"}


def test_postage_discount_and_adjustment_codes():
    mapping = mapped(
        line("1", "22423", 4, 5.0),
        line("1", "POST", 2, 18.0),
        line("1", "D", -1, 3.0, description="Discount"),
        line("1", "M", 1, 50.0, description="Manual"),
        line("1", "BANK CHARGES", 1, 15.0),
        line("1", "gift_0001_20", 1, 17.0),
        line("2", "POST", 1, 18.0),  # postage alone: no product sold, no order
        line("C3", "D", -1, 7.0, description="Discount"),  # a credit note, not tied to an order
        line("C3", "AMAZONFEE", -1, 100.0, customer=None),
    )
    orders = by_order(mapping)
    assert set(orders) == {"1"}
    order = orders["1"]
    amounts = [order[k] for k in ("subtotal", "shipping", "discount", "total")]
    assert amounts == ["20.00", "36.00", "3.00", "53.00"]
    assert items_of(mapping, "1") == [("1", "22423", "4", "5.00")]
    categories = mapping.report["lines_by_category"]
    assert categories[LineCategory.SHIPPING] == 1
    assert categories[LineCategory.SHIPPING_WITHOUT_ORDER] == 1
    assert categories[LineCategory.DISCOUNT] == 1
    assert categories[LineCategory.DISCOUNT_CREDIT] == 1
    assert categories[LineCategory.ADJUSTMENT] == 4
    codes = mapping.report["service_codes"]
    assert codes["M"]["lines"] == 1 and codes["GIFT_0001_20"]["amount_gbp"] == 17.0
    assert codes["AMAZONFEE"]["lines_on_cancellation_invoices"] == 1
    assert mapping.report["amounts_gbp"]["expected_landed_product_revenue"] == 20.0


def test_write_offs_and_zero_price_lines_are_excluded_and_counted():
    mapping = mapped(
        line("1", "22423", 3, 2.0),
        line("1", "21777", 1, 0.0, customer=17850),  # a free item
        line("2", "85123A", -20, 0.0, customer=None, description="damaged"),
        line("3", "22139", 56, 0.0, customer=None, description=None),
    )
    assert set(mapping.tables["orders/orders"]["order_id"]) == {"1"}
    assert items_of(mapping, "1") == [("1", "22423", "3", "2.00")]
    assert mapping.report["stock_write_offs"] == {"lines": 1, "quantity": -20, "lines_without_customer": 1}
    assert mapping.report["zero_price_product_lines"]["lines"] == 2
    assert mapping.report["lines_categorized"] == mapping.report["rows_in"] == 4


def test_blank_customer_is_a_guest_order_and_no_contact():
    mapping = mapped(line("1", "22423", 1, 2.0, customer=None), line("2", "22423", 1, 2.0))
    orders = by_order(mapping)
    assert orders["1"]["contact_id"] == ""
    assert orders["2"]["contact_id"] == "17850"
    assert list(mapping.tables["crm/contacts"]["contact_id"]) == ["17850"]
    assert mapping.report["orders"]["guest"] == 1


def test_exact_duplicate_lines_share_a_line_number_for_staging_to_collapse():
    mapping = mapped(
        line("1", "22423", 2, 2.0),
        line("1", "85123A", 1, 3.0),
        line("1", "22423", 2, 2.0),
        line("1", "22423", 3, 2.0),
    )
    assert items_of(mapping, "1") == [
        ("1", "22423", "2", "2.00"),
        ("1", "22423", "2", "2.00"),
        ("2", "85123A", "1", "3.00"),
        ("3", "22423", "3", "2.00"),
    ]
    assert by_order(mapping)["1"]["subtotal"] == "17.00"
    assert mapping.report["duplicate_lines"]["lines_sharing_a_line_number"] == 1
    assert mapping.report["duplicate_lines"]["value_gbp"] == 4.0


def test_catalog_and_contacts():
    mapping = mapped(
        line("1", "85123a", 1, 2.55, description="WHITE HANGING HEART", at="2011-06-01 10:00:00"),
        line("2", "85123A", 1, 2.95, description="WHITE HANGING HEART T-LIGHT", country="France"),
        line("3", "85123A", 1, 2.95, description="WHITE HANGING HEART T-LIGHT", country="France"),
        line("4", "85123A", 1, 3.25, description="?", customer=None),
    )
    products = mapping.tables["catalog/products"]
    assert products.to_dict("records") == [
        {
            "product_id": "85123A", "name": "WHITE HANGING HEART T-LIGHT", "category": "", "subcategory": "",
            "price": "2.95", "currency": "GBP", "image_url": "", "active": "true",
        }
    ]  # fmt: skip
    assert items_of(mapping, "1") == [("1", "85123a", "1", "2.55")]
    contacts = mapping.tables["crm/contacts"].to_dict("records")
    assert contacts == [
        {
            "contact_id": "17850",
            "country": "France",
            "signup_at": "2011-01-10T10:00:00Z",
            "updated_at": "2011-01-10T10:00:00Z",
        }
    ]


def test_money_text_is_exact():
    amounts = (0, 1, 2550, 18000, 123456789)
    assert [money(v) for v in amounts] == ["0.00", "0.001", "2.55", "18.00", "123456.789"]


def test_landed_files_follow_the_contract_and_balance(tmp_path):
    mapping = mapped(
        line("1", "22423", 10, 2.5),
        line("1", "POST", 1, 18.0),
        line("1", "22423", 10, 2.5),
        line("C2", "22423", -4, 2.5, at="2011-01-12 09:00:00"),
        line("3", "21777", 2, 4.15, customer=None),
    )
    landing = tmp_path / "landing"
    stale = landing / "orders" / "orders_old.csv"
    stale.parent.mkdir(parents=True)
    stale.write_text("left over from an older mapping\n")
    write_landing(mapping.tables, landing)
    assert not stale.exists()
    assert header_matches_contract(landing) == dict.fromkeys(sorted(mapping.tables), True)
    contacts = pd.read_csv(landing / "crm" / "contacts.csv", dtype=str, keep_default_na=False)
    assert list(contacts.columns) == list(contract_columns()["crm/contacts"])
    assert contacts.loc[0, "email"] == "" and contacts.loc[0, "email_opt_in"] == ""
    check = revenue_check(landed_amounts(landing), mapping.expected)
    assert check["balanced_to_the_penny"], check
    assert check["order_lines_revenue"]["landed_gbp"] == 25.0 + 25.0 - 10.0 + 8.3


def test_catalog_price_is_the_median_written_without_exponents():
    mapping = mapped(
        line("1", "22423", 1, 10.0),
        line("2", "22423", 1, 10.0),
        line("1", "21777", 1, 2.55),
        line("2", "21777", 1, 2.56),
    )
    prices = mapping.tables["catalog/products"].set_index("product_id")["price"].to_dict()
    assert prices == {"21777": "2.555", "22423": "10.00"}


ONLINE_RETAIL_II = {
    "InvoiceNo": "Invoice",
    "UnitPrice": "Price",
    "CustomerID": "Customer ID",
}


def renamed_mapping(tmp_path, renames: dict[str, str]):
    """The shipped mapping file with only its `columns` edited, as a user would."""
    text = DEFAULT_MAPPING.read_text()
    for old, new in renames.items():
        text = text.replace(f": {old} ", f": {new!r} ", 1)
    path = tmp_path / "mapping.yml"
    path.write_text(text)
    return load_mapping(path)


def test_renamed_columns_need_only_the_mapping_file(tmp_path):
    original = export(
        line("1", "22423", 10, 2.5),
        line("C2", "22423", -4, 2.5, at="2011-01-12 09:00:00"),
        line("3", "POST", 1, 18.0, customer=None),
    )
    renamed = original.rename(columns=ONLINE_RETAIL_II)
    source = tmp_path / "online_retail_ii.parquet"
    renamed.to_parquet(source, index=False)
    config = renamed_mapping(tmp_path, ONLINE_RETAIL_II)
    from_renamed = map_online_retail(read_export(source, config), config)
    expected = map_online_retail(original)
    for name, table in expected.tables.items():
        pd.testing.assert_frame_equal(from_renamed.tables[name], table, obj=name)


def test_an_export_without_a_mapped_column_is_refused_naming_it_and_the_mapping(tmp_path):
    source = tmp_path / "online_retail_ii.parquet"
    export(line("1", "22423", 1, 2.0)).rename(columns=ONLINE_RETAIL_II).to_parquet(source, index=False)
    with pytest.raises(MappingError) as raised:
        read_export(source, load_mapping())
    message = str(raised.value)
    assert "['CustomerID', 'InvoiceNo', 'UnitPrice']" in message
    assert str(DEFAULT_MAPPING) in message and "Customer ID" in message


def test_a_missing_export_says_where_the_public_data_set_comes_from(tmp_path):
    with pytest.raises(MappingError, match="UCI Machine Learning Repository"):
        read_export(tmp_path / "absent.parquet", load_mapping())
    assert not load_mapping().source_path.is_absolute()


def test_unknown_codes_are_reported_with_counts_and_examples():
    mapping = mapped(
        line("1", "22423", 1, 2.0),
        line("1", "NEWFEE", 1, 3.0, description="A new fee"),
        line("2", "NEWFEE", 2, 3.0, description="A new fee"),
        line("2", "1234", 1, 1.0, description="Odd"),
    )
    unknown = mapping.report["unknown_codes"]
    assert list(unknown) == ["NEWFEE", "1234"]
    assert unknown["NEWFEE"]["lines"] == 2 and unknown["NEWFEE"]["amount_gbp"] == 9.0
    assert unknown["NEWFEE"]["examples"][0] == {"invoice": "1", "description": "A new fee", "quantity": 1}
    assert mapping.report["lines_by_category"]["unknown_code"] == 3
