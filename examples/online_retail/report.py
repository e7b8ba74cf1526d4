"""The mapping report: where every source line went (rows in = rows out), what netting the
cancellations did, and the exact amounts the landed files must add up to."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from examples.online_retail.lines import CodeKind, LineCategory, Netting, to_pounds


def mapping_report(lines, netting: Netting, tables, item_amounts: np.ndarray) -> tuple[dict, dict]:
    category_counts = lines["category"].value_counts()
    amount = lines["quantity"] * lines["price"]
    sales = lines["category"] == LineCategory.SALE
    shipping = lines["category"] == LineCategory.SHIPPING

    codes = {}
    service = lines[lines["kind"] != CodeKind.PRODUCT]
    for code, group in service.groupby("code"):
        group_amount = group["quantity"] * group["price"]
        cancel = group["is_cancellation"]
        codes[code] = {
            "kind": group["kind"].iloc[0],
            "lines": len(group),
            "lines_on_cancellation_invoices": int(cancel.sum()),
            "amount_gbp": to_pounds(int(group_amount.sum())),
            "categories": dict(Counter(group["category"])),
        }

    outcome = netting.cancellations
    by_purchase = netting.allocations.merge(
        lines[["row", "price", "kind"]], left_on="purchase_row", right_on="row"
    )
    netted_value = by_purchase["quantity"] * by_purchase["price"]
    product_alloc = by_purchase["kind"] == CodeKind.PRODUCT
    reduced = lines[
        (lines["net_quantity"] < lines["quantity"])
        & lines["category"].isin([LineCategory.SALE, LineCategory.SHIPPING])
    ]
    product_outcome = outcome[outcome["kind"] == CodeKind.PRODUCT]

    def outcome_counts(frame: pd.DataFrame) -> dict:
        return {
            "lines": len(frame),
            "lines_fully_netted": int((frame["unmatched"] == 0).sum()),
            "lines_partly_netted": int(((frame["matched"] > 0) & (frame["unmatched"] > 0)).sum()),
            "lines_unmatched": int((frame["matched"] == 0).sum()),
            "quantity_cancelled": int(frame["wanted"].sum()),
            "quantity_netted": int(frame["matched"].sum()),
            "quantity_unmatched": int(frame["unmatched"].sum()),
            "unmatched_value_gbp_at_cancellation_price": to_pounds(
                int((frame["unmatched"] * frame["price"]).sum())
            ),
        }

    write_offs = lines[lines["category"] == LineCategory.WRITE_OFF]
    zero_price = lines[lines["category"] == LineCategory.ZERO_PRICE]
    item_pairs = tables["orders/order_items"][["order_id", "line_number"]]
    repeated = item_pairs.duplicated().to_numpy()
    versions = tables["orders/orders"]
    orders = versions.drop_duplicates("order_id", keep="last")  # each order's latest version
    contact_versions = tables["crm/contacts"]
    contacts = contact_versions.drop_duplicates("contact_id", keep="last")
    unknown = lines[lines["kind"] == CodeKind.UNKNOWN]
    unknown_codes = {
        code: {
            "lines": len(group),
            "amount_gbp": to_pounds(int((group["quantity"] * group["price"]).sum())),
            "examples": [
                {"invoice": invoice, "description": description, "quantity": int(quantity)}
                for invoice, description, quantity in group[["invoice", "description", "quantity"]]
                .head(3)
                .itertuples(index=False)
            ],
        }
        for code, group in sorted(unknown.groupby("code"), key=lambda item: -len(item[1]))
    }

    product_revenue = int(amount[sales].sum())
    netted_product = int(netted_value[product_alloc].sum())
    source_shipping = int(amount[shipping].sum())
    netted_shipping = int(netted_value[~product_alloc].sum())
    rows_out = {name: len(frame) for name, frame in tables.items()}
    contacts_with_orders = set(orders.loc[orders["status"] == "completed", "contact_id"]) - {""}
    expected = {
        "product_revenue": product_revenue - netted_product,
        "shipping": source_shipping - netted_shipping,
    }
    report = {
        "source": {
            "rows": len(lines),
            "invoices": int(lines["invoice"].nunique()),
            "cancellation_invoices": int(lines.loc[lines["is_cancellation"], "invoice"].nunique()),
            "customers": int(lines.loc[lines["customer"] != "", "customer"].nunique()),
            "lines_without_customer": int((lines["customer"] == "").sum()),
            "first_invoice_utc": lines["at"].min().strftime("%Y-%m-%dT%H:%M:%SZ") if len(lines) else None,
            "last_invoice_utc": lines["at"].max().strftime("%Y-%m-%dT%H:%M:%SZ") if len(lines) else None,
        },
        "rows_in": len(lines),
        "lines_by_category": {str(c): int(category_counts.get(str(c), 0)) for c in LineCategory},
        "lines_categorized": int(category_counts.sum()),
        "service_codes": codes,
        "unknown_codes": unknown_codes,
        "cancellations": {
            "all": outcome_counts(outcome),
            "product_codes": outcome_counts(product_outcome),
            "shipping_codes": outcome_counts(outcome[outcome["kind"] == CodeKind.SHIPPING]),
            "lines_with_unmatched_quantity_by_reason": dict(
                Counter(outcome.loc[outcome["unmatched"] > 0, "reason"])
            ),
            "purchase_lines_reduced": len(reduced),
            "purchase_lines_netted_to_zero": int((reduced["net_quantity"] == 0).sum()),
            "product_value_netted_gbp": to_pounds(netted_product),
            "shipping_value_netted_gbp": to_pounds(netted_shipping),
        },
        "stock_write_offs": {
            "lines": len(write_offs),
            "quantity": int(write_offs["quantity"].sum()),
            "lines_without_customer": int((write_offs["customer"] == "").sum()),
        },
        "zero_price_product_lines": {
            "lines": len(zero_price),
            "lines_without_customer": int((zero_price["customer"] == "").sum()),
            "lines_with_customer": int((zero_price["customer"] != "").sum()),
        },
        "duplicate_lines": {
            "lines_sharing_a_line_number": int(repeated.sum()),
            "value_gbp": to_pounds(int(item_amounts[repeated].sum())),
            "note": "landed as they are; staging collapses them (rows_collapsed_as_duplicates)",
        },
        "orders": {
            "rows": len(orders),
            "completed": int((orders["status"] == "completed").sum()),
            "cancelled": int((orders["status"] == "cancelled").sum()),
            "guest": int((orders["contact_id"] == "").sum()),
            "guest_completed": int(((orders["contact_id"] == "") & (orders["status"] == "completed")).sum()),
            "non_cancellation_invoices_without_product_sale": int(
                lines.loc[~lines["is_cancellation"], "invoice"].nunique() - len(orders)
            ),
            "with_discount": int((orders["discount"] != "0.00").sum()),
            "versions": len(versions),
            "with_later_versions": int(versions.loc[versions["order_id"].duplicated(), "order_id"].nunique()),
        },
        "contacts": {
            "rows": len(contacts),
            "versions": len(contact_versions),
            "with_completed_order": len(contacts_with_orders),
            "without_completed_order": len(contacts) - len(contacts_with_orders),
            "countries": dict(Counter(contacts["country"]).most_common()),
        },
        "rows_out": rows_out,
        "amounts_gbp": {
            "source_product_revenue": to_pounds(product_revenue),
            "netted_product_cancellations": to_pounds(netted_product),
            "expected_landed_product_revenue": to_pounds(product_revenue - netted_product),
            "source_shipping_on_orders": to_pounds(source_shipping),
            "netted_shipping_cancellations": to_pounds(netted_shipping),
            "expected_landed_shipping": to_pounds(source_shipping - netted_shipping),
        },
    }
    return report, expected
