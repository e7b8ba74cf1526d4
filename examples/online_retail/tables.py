"""The four contract tables made from the categorized, netted lines: order versions and order
lines, products and contact versions, every value as text (the decisions are stated in the
docstring of examples/online_retail/mapping.py)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import numpy as np
import pandas as pd

from examples.online_retail.config import MappingConfig
from examples.online_retail.lines import LineCategory, Netting, iso_utc, money, money_texts


def _first_rank(frame: pd.DataFrame, group: str, keys: list[str]) -> pd.Series:
    """Dense rank within `group` of each distinct `keys` value, in order of first appearance."""
    first_row = frame.groupby([group, *keys], sort=False)["row"].transform("min")
    return first_row.groupby(frame[group]).rank(method="dense").astype("int64")


def _order_versions(lines: pd.DataFrame, header: pd.DataFrame, netting: Netting) -> pd.DataFrame:
    """One row per order and moment its amounts changed: as invoiced, then after each cancellation
    netted against it (at the cancellation's time, or the order's when that is earlier), so the
    pipeline counts a cancellation only from when it happened."""
    allocated = netting.allocations.merge(
        lines[["row", "invoice", "price", "category"]], left_on="purchase_row", right_on="row"
    ).merge(lines[["row", "at"]].rename(columns={"row": "cancel_row", "at": "cancelled_at"}), on="cancel_row")
    allocated = allocated[allocated["invoice"].isin(header.index)]
    allocated["version_at"] = np.maximum(
        allocated["cancelled_at"].to_numpy(), allocated["invoice"].map(header["at"]).to_numpy()
    )
    amount = allocated["quantity"] * allocated["price"]
    is_sale = allocated["category"] == LineCategory.SALE
    changes = pd.DataFrame(
        {
            "invoice": allocated["invoice"],
            "version_at": allocated["version_at"],
            "subtotal": np.where(is_sale, amount, 0),
            "shipping": np.where(is_sale, 0, amount),
            "products": np.where(is_sale, allocated["quantity"], 0),
        }
    )
    invoiced = pd.DataFrame({"invoice": header.index, "version_at": header["at"].to_numpy()})
    invoiced[["subtotal", "shipping", "products"]] = 0
    versions = (
        pd.concat([invoiced, changes], ignore_index=True)
        .groupby(["invoice", "version_at"], sort=True)[["subtotal", "shipping", "products"]]
        .sum()
        .groupby(level="invoice")
        .cumsum()
        .reset_index()
    )
    gross = header.loc[versions["invoice"]]
    versions["subtotal"] = gross["gross_subtotal"].to_numpy() - versions["subtotal"].to_numpy()
    versions["shipping"] = gross["gross_shipping"].to_numpy() - versions["shipping"].to_numpy()
    versions["discount"] = gross["discount"].to_numpy()
    versions["total"] = versions["subtotal"] - versions["discount"] + versions["shipping"]
    left = gross["gross_products"].to_numpy() - versions["products"].to_numpy()
    versions["status"] = np.where(left > 0, "completed", "cancelled")
    versions["first_row"] = gross["first_row"].to_numpy()
    versions["contact_id"] = gross["contact_id"].to_numpy()
    versions["ordered_at"] = gross["at"].to_numpy()
    return versions.sort_values(["first_row", "version_at"], kind="mergesort").reset_index(drop=True)


def orders_and_items(
    lines: pd.DataFrame, netting: Netting, config: MappingConfig
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Order versions and the lines as finally netted, plus each landed line's amount in
    thousandths (for the report)."""
    sales = lines[lines["category"] == LineCategory.SALE]
    on_orders = lines[lines["invoice"].isin(sales["invoice"].unique())]
    by_invoice = on_orders.groupby("invoice", sort=False)

    def category_sum(category: LineCategory, column: str) -> pd.Series:
        selected = on_orders[on_orders["category"] == category]
        return selected.groupby("invoice")[column].sum()

    header = pd.DataFrame(
        {
            "first_row": by_invoice["row"].min(),
            "at": by_invoice["at"].min(),
            "contact_id": by_invoice["customer"].first(),
        }
    )
    on_orders = on_orders.assign(gross_amount=on_orders["quantity"] * on_orders["price"])
    header["gross_subtotal"] = category_sum(LineCategory.SALE, "gross_amount")
    header["gross_shipping"] = category_sum(LineCategory.SHIPPING, "gross_amount")
    header["gross_products"] = category_sum(LineCategory.SALE, "quantity")
    header["discount"] = category_sum(LineCategory.DISCOUNT, "gross_amount")
    amounts = ["gross_subtotal", "gross_shipping", "gross_products", "discount"]
    header[amounts] = header[amounts].fillna(0).astype("int64")
    header["discount"] = header["discount"].abs()
    versions = _order_versions(lines, header, netting)

    orders = pd.DataFrame(
        {
            "order_id": versions["invoice"].astype(str).to_numpy(),
            "contact_id": versions["contact_id"].to_numpy(),
            "email": "",
            "ordered_at": iso_utc(versions["ordered_at"]).to_numpy(),
            "status": versions["status"].to_numpy(),
            "currency": config.currency,
            "subtotal": money_texts(versions["subtotal"]),
            "discount": money_texts(versions["discount"]),
            "shipping": money_texts(versions["shipping"]),
            "total": money_texts(versions["total"]),
            "channel": config.channel,
            "updated_at": iso_utc(versions["version_at"]).to_numpy(),
        }
    )

    kept = sales[sales["net_quantity"] > 0].sort_values("row").copy()
    kept["line_number"] = _first_rank(kept, "invoice", ["stock_code", "price", "net_quantity"])
    kept["first_row"] = kept["invoice"].map(header["first_row"])
    kept = kept.sort_values(["first_row", "line_number", "row"])
    items = pd.DataFrame(
        {
            "order_id": kept["invoice"].to_numpy(),
            "line_number": kept["line_number"].astype(str).to_numpy(),
            "product_id": kept["stock_code"].to_numpy(),
            "quantity": kept["net_quantity"].astype(str).to_numpy(),
            "unit_price": money_texts(kept["price"]),
        }
    )
    return orders, items, (kept["net_quantity"] * kept["price"]).to_numpy()


def _most_frequent(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    """The most frequent non-blank `value` per `key`, ties broken alphabetically (deterministic)."""
    pairs = frame.loc[frame[value].notna() & (frame[value] != ""), [key, value]]
    counts = pairs.value_counts().rename("n").reset_index()
    counts = counts.sort_values([key, "n", value], ascending=[True, False, True])
    return counts.drop_duplicates(key).set_index(key)[value]


def _median_text(thousandths: float) -> str:
    """A median of prices: whole thousandths, or half of one when it falls between two."""
    if thousandths == int(thousandths):
        return money(int(thousandths))
    return format(Decimal(str(thousandths)).scaleb(-3), "f")


def products(lines: pd.DataFrame, config: MappingConfig) -> pd.DataFrame:
    sales = lines[lines["category"] == LineCategory.SALE]
    median_price = sales.groupby("code")["price"].median()
    names = _most_frequent(sales, "code", "description")
    codes = sorted(median_price.index)
    return pd.DataFrame(
        {
            "product_id": codes,
            "name": [names.get(code, "") for code in codes],
            "category": "",
            "subcategory": "",
            "price": [_median_text(median_price[code]) for code in codes],
            "currency": config.currency,
            "image_url": "",
            "active": "true",
        }
    )


def contacts(lines: pd.DataFrame) -> pd.DataFrame:
    """One CRM version per customer and moment what the shop knew of them changed: the first at
    their first invoice, a new one whenever the country of most of their invoices so far changes
    (a tie keeps the current one). A version says only what was known when it was written."""
    known = lines[lines["customer"] != ""]
    invoices = (
        known.groupby(["customer", "invoice"], sort=False)
        .agg(at=("at", "min"), country=("country", "first"), row=("row", "min"))
        .reset_index()
        .sort_values(["customer", "at", "row"], kind="mergesort")
    )
    rows = []
    for customer, group in invoices.groupby("customer", sort=False):
        counts: Counter = Counter()
        current = None
        signup = group["at"].iloc[0]
        for country, at in zip(group["country"], group["at"], strict=True):
            if country and country != "nan":
                counts[country] += 1
            leader = max(counts, key=lambda c: (counts[c], c == current), default="")
            if current is None or (leader != current and counts[leader] > counts.get(current, 0)):
                current = leader
                rows.append((customer, current, signup, at))
    versions = pd.DataFrame(rows, columns=["contact_id", "country", "signup_at", "updated_at"])
    versions = versions.sort_values(
        ["contact_id", "updated_at"], key=lambda s: s.astype(int) if s.name == "contact_id" else s
    )
    return pd.DataFrame(
        {
            "contact_id": versions["contact_id"].astype(str).to_numpy(),
            "country": versions["country"].astype(str).to_numpy(),
            "signup_at": iso_utc(versions["signup_at"]).to_numpy(),
            "updated_at": iso_utc(versions["updated_at"]).to_numpy(),
        }
    )
