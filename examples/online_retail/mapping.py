"""The UCI Online Retail invoice lines mapped onto the raw-data contract, one documented decision
at a time. Every source line ends in exactly one category of `LineCategory`, so the report can
prove rows in = rows out; the figures of a run are in `mapping_report.json` and the README.

Stock codes (matched upper-cased, the way staging canonicalizes product ids)
- Product: `PRODUCT_CODE`, five digits plus optional letters (`85123A`, `15056BL`, `79323GR`) or a
  `DCGS…` code (the shop's dotcom-giftshop items: party bags, collars, an ashtray). Every other
  code in the export is a named service code below; a code matching nothing is counted as
  `unknown_code` and left out, so a new code shows up in the report instead of as revenue.
- Shipping: POST, DOT (dotcom postage), C2 (carriage) become the order's `shipping`.
- Discount: D. On an ordinary invoice it would become the order's `discount`; in this export every
  D line sits on a cancellation invoice (a credit note granted after the sale with no link to the
  order it rewards), so it is counted as `discount_credit` and left out: crediting it to some
  earlier order of the customer would be a guess.
- Adjustments, neither product lines nor revenue, counted per code: M/m (manual), B (bad-debt
  adjustment), BANK CHARGES, AMAZONFEE, CRUK (charity commission), S (samples), PADS (a 0.001
  price placeholder) and gift vouchers `gift_0001_*` (selling a voucher is not selling a product:
  the revenue is booked when it is spent).

Orders (orders/orders): one per invoice that is not a cancellation (`C…`) and holds at least one
product sale line; an invoice with none (only postage, fees or write-offs) is not an order, and its
lines are counted by category. `ordered_at` is the invoice's earliest time (43 invoices span two
minutes), read as Europe/London wall-clock time and converted to UTC with zoneinfo (`…Z`), so a
summer invoice at 10:00 is 09:00Z. `contact_id` is CustomerID as an integer string; about a quarter
of the lines have none: those are guest orders with no e-mail either, so the pipeline keeps their
revenue but can never attribute them to a person. currency GBP, channel `web` (an online shop),
e-mail blank (the export has none). subtotal = Σ product lines after netting, shipping = Σ postage
lines after netting, discount = |Σ D lines| of the invoice, total = subtotal − discount + shipping.
status `cancelled` when cancellations net every product line of the invoice to zero (such an order
lands with no lines), else `completed`.

Cancellations (`C…` invoices, negative quantities) are netted, not landed: each cancelled quantity
of a product or shipping code goes to the latest earlier-or-same-minute line of the same customer
and code (greedy: capped at that line's remaining quantity, the rest to the line before it, and so
on), in chronological order of the cancellations. Netted lines keep their unit price and lose the
quantity (a line netted to zero is dropped: staging would quarantine a zero quantity), and their
order's amounts shrink with them. What cannot be netted is counted and left out: cancellations of
guests (no customer to match) and of purchases made before the export starts (2010-12-01).

Other dirt
- Stock write-offs: product or shipping lines with Quantity ≤ 0 or UnitPrice < 0 on ordinary
  invoices (damaged, lost, "check" notes; all without a customer) are excluded and counted.
- UnitPrice = 0 product lines are excluded and counted: almost all have no customer and no or a
  stock-keeping description (amazon, check, damages), and the few on customer invoices are free
  items that add nothing to revenue, RFM or spend features but would inflate item counts.
- Exact duplicate lines are NOT dropped here: `line_number` is the rank, by first appearance, of the
  distinct (StockCode, UnitPrice, Quantity after netting) within the invoice, so repeated lines
  share a line number and staging collapses them and counts them in its reconciliation. The
  orders' subtotals include the repeats, as the export does.

Order lines (orders/order_items): order_id, line_number, product_id = StockCode as written (staging
upper-cases it), quantity after netting, unit_price.

Products (catalog/products): one row per canonical (upper-cased) product code sold at a price above
zero, so `85123a` and `85123A` are one product, as staging would treat them; name = the most
frequent description (ties: alphabetical), price = median unit price of its sale lines, GBP,
active. The export has no categories and no images: category, subcategory and image_url are blank.

Contacts (crm/contacts): one per CustomerID seen on any line (cancellations included: the shop
knows them): country = the country of most of the customer's invoices (ties: alphabetical) as the
export spells it, signup_at = first invoice time, updated_at = last invoice time, both UTC. The
export has no e-mail addresses and no consent: email and email_opt_in are blank, so nobody is
contactable. The example exercises profiles, RFM and segments, never an ESP export.

Money is handled in integer thousandths of a pound (the finest price step in the export is 0.001),
so every total in the report reconciles exactly.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

SOURCE_COLUMNS = (
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country",
)  # fmt: skip
# Where the shared datasets live in this project's environment; elsewhere pass --source or set
# AW_ONLINE_RETAIL_PATH (the UCI data set 352, "Online Retail", saved as Parquet).
DEFAULT_SOURCE = Path("/work/shared/datasets/online_retail/online_retail.parquet")
SHOP_TIMEZONE = ZoneInfo("Europe/London")
CURRENCY = "GBP"
CHANNEL = "web"

PRODUCT_CODE = re.compile(r"[0-9]{5}[A-Z]*|DCGS[0-9A-Z]+")
SHIPPING_CODES = frozenset({"POST", "DOT", "C2"})
DISCOUNT_CODES = frozenset({"D"})
ADJUSTMENT_CODES = frozenset({"M", "B", "BANK CHARGES", "AMAZONFEE", "CRUK", "S", "PADS"})
GIFT_VOUCHER_CODE = re.compile(r"GIFT_0001_[0-9]+")


class CodeKind(StrEnum):
    PRODUCT = "product"
    SHIPPING = "shipping"
    DISCOUNT = "discount"
    ADJUSTMENT = "adjustment"
    UNKNOWN = "unknown"


class LineCategory(StrEnum):
    """Where a source line went; every line gets exactly one."""

    SALE = "product_sale"  # landed as an order line (unless netted to zero)
    SHIPPING = "shipping"  # added to its order's shipping
    SHIPPING_WITHOUT_ORDER = "shipping_on_invoice_without_products"
    DISCOUNT = "discount"  # added to its order's discount
    DISCOUNT_WITHOUT_ORDER = "discount_on_invoice_without_products"
    DISCOUNT_CREDIT = "discount_credit"  # D on a cancellation invoice
    ADJUSTMENT = "non_product_adjustment"
    UNKNOWN_CODE = "unknown_code"
    WRITE_OFF = "stock_write_off"
    ZERO_PRICE = "zero_price_product"
    CANCELLATION = "cancellation"  # product or shipping code on a C invoice: netted


def code_kind(code: str) -> CodeKind:
    """The kind of an upper-cased stock code."""
    if PRODUCT_CODE.fullmatch(code):
        return CodeKind.PRODUCT
    if code in SHIPPING_CODES:
        return CodeKind.SHIPPING
    if code in DISCOUNT_CODES:
        return CodeKind.DISCOUNT
    if code in ADJUSTMENT_CODES or GIFT_VOUCHER_CODE.fullmatch(code):
        return CodeKind.ADJUSTMENT
    return CodeKind.UNKNOWN


def london_to_utc(local: str) -> datetime:
    """A 'YYYY-MM-DD HH:MM:SS' wall-clock time in London as naive UTC. In the autumn hour that
    happens twice zoneinfo takes the first (summer-time) reading; the shop sold nothing at 01:00."""
    return datetime.fromisoformat(local).replace(tzinfo=SHOP_TIMEZONE).astimezone(UTC).replace(tzinfo=None)


def iso_utc(values: pd.Series) -> pd.Series:
    return values.dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def money(thousandths: int) -> str:
    """Exact decimal text of an amount in thousandths of a pound: 2 places unless the third is used."""
    sign = "-" if thousandths < 0 else ""
    whole, frac = divmod(abs(int(thousandths)), 1000)
    text = f"{sign}{whole}.{frac:03d}"
    return text[:-1] if text.endswith("0") else text


def money_texts(thousandths) -> list[str]:
    """`money` of many amounts, formatting each distinct amount once (prices repeat a lot)."""
    values = pd.Series(np.asarray(thousandths, dtype="int64"))
    return values.map({v: money(v) for v in values.unique()}).tolist()


def to_pounds(thousandths: int) -> float:
    return float(Decimal(int(thousandths)).scaleb(-3))


def read_source(path: Path, limit: int | None = None) -> pd.DataFrame:
    """The export as a frame of its own columns; `limit` keeps the first rows (tests)."""
    table = pq.read_table(path, columns=list(SOURCE_COLUMNS))
    if limit is not None:
        table = table.slice(0, limit)
    return table.to_pandas()


def prepare(source: pd.DataFrame) -> pd.DataFrame:
    """Typed, normalized lines with their code kind and UTC time; refuses what the money accounting
    could not represent exactly rather than rounding it away."""
    missing = [c for c in SOURCE_COLUMNS if c not in source.columns]
    if missing:
        raise ValueError(f"the export lacks column(s) {missing}")
    frame = source.reset_index(drop=True)
    price = frame["UnitPrice"].astype("float64").to_numpy()
    thousandths = np.rint(price * 1000)
    if np.isnan(price).any() or (np.abs(price * 1000 - thousandths) > 1e-6).any():
        raise ValueError("UnitPrice is blank or finer than 0.001 on some lines")
    if frame["Quantity"].isna().any() or frame["InvoiceNo"].isna().any() or frame["InvoiceDate"].isna().any():
        raise ValueError("InvoiceNo, Quantity or InvoiceDate is blank on some lines")
    customer = frame["CustomerID"].astype("float64")
    if (customer.dropna() % 1 != 0).any():
        raise ValueError("CustomerID is not a whole number on some lines")

    local = frame["InvoiceDate"].astype(str).str.strip()
    utc_by_local = {text: london_to_utc(text) for text in local.unique()}
    lines = pd.DataFrame(
        {
            "row": np.arange(len(frame), dtype="int64"),
            "invoice": frame["InvoiceNo"].astype(str).str.strip(),
            "stock_code": frame["StockCode"].astype(str).str.strip(),
            "description": frame["Description"].astype("str").str.strip(),
            "quantity": frame["Quantity"].astype("int64"),
            "price": thousandths.astype("int64"),
            "at": pd.to_datetime(local.map(utc_by_local)),
            "customer": np.where(customer.isna(), "", customer.fillna(0).astype("int64").astype(str)),
            "country": frame["Country"].astype("str").str.strip(),
        }
    )
    lines["code"] = lines["stock_code"].str.upper()
    lines["is_cancellation"] = lines["invoice"].str.startswith("C")
    # Plain Python strings from here: grouping and filtering half a million of them is several
    # times faster than through pandas' Arrow-backed default string type.
    for column in ("invoice", "stock_code", "code", "description", "customer", "country"):
        lines[column] = lines[column].astype(object)
    kinds = {code: str(code_kind(code)) for code in lines["code"].unique()}
    lines["kind"] = lines["code"].map(kinds).astype(object)
    lines["category"] = _categories(lines)
    return lines


def _categories(lines: pd.DataFrame) -> pd.Series:
    kind = lines["kind"]
    cancel = lines["is_cancellation"]
    lands = kind.isin([CodeKind.PRODUCT, CodeKind.SHIPPING])
    bad_sign = (lines["quantity"] <= 0) | (lines["price"] < 0)
    sale = ~cancel & (kind == CodeKind.PRODUCT) & ~bad_sign & (lines["price"] > 0)
    on_order = lines["invoice"].isin(lines.loc[sale, "invoice"].unique())
    conditions = [
        cancel & lands,
        cancel & (kind == CodeKind.DISCOUNT),
        kind == CodeKind.ADJUSTMENT,
        kind == CodeKind.UNKNOWN,
        ~cancel & lands & bad_sign,
        sale,
        ~cancel & (kind == CodeKind.PRODUCT),
        ~cancel & (kind == CodeKind.SHIPPING) & on_order,
        ~cancel & (kind == CodeKind.SHIPPING),
        ~cancel & (kind == CodeKind.DISCOUNT) & on_order,
    ]
    choices = [
        LineCategory.CANCELLATION,
        LineCategory.DISCOUNT_CREDIT,
        LineCategory.ADJUSTMENT,
        LineCategory.UNKNOWN_CODE,
        LineCategory.WRITE_OFF,
        LineCategory.SALE,
        LineCategory.ZERO_PRICE,
        LineCategory.SHIPPING,
        LineCategory.SHIPPING_WITHOUT_ORDER,
        LineCategory.DISCOUNT,
    ]
    categories = np.select(
        conditions, [str(c) for c in choices], default=str(LineCategory.DISCOUNT_WITHOUT_ORDER)
    )
    return pd.Series(categories, index=lines.index)


@dataclass
class Netting:
    """The outcome of netting cancellations against purchases."""

    netted: np.ndarray  # quantity taken off each line, indexed by row
    allocations: pd.DataFrame  # cancel_row, purchase_row, quantity
    cancellations: pd.DataFrame  # one row per cancellation line: wanted, matched, reason


def net_cancellations(lines: pd.DataFrame) -> Netting:
    """Allocate each cancelled quantity to the latest earlier lines of the same customer and code.
    Vectorized up to the per-cancellation loop, which walks only that customer's lines of that
    code (a few thousand cancellation lines, not the half million purchase lines)."""
    cancels = lines[lines["category"] == LineCategory.CANCELLATION].sort_values(["at", "invoice", "row"])
    pool = lines[
        lines["category"].isin([LineCategory.SALE, LineCategory.SHIPPING]) & (lines["customer"] != "")
    ]
    keys = cancels.loc[cancels["customer"] != "", ["customer", "code"]].drop_duplicates()
    pool = pool.merge(keys, on=["customer", "code"]).sort_values(["customer", "code", "at", "row"])
    pool = pool.reset_index(drop=True)
    groups = pool.groupby(["customer", "code"], sort=False).indices
    remaining = pool["quantity"].to_numpy().copy()
    pool_at = pool["at"].to_numpy()
    pool_row = pool["row"].to_numpy()

    allocations: list[tuple[int, int, int]] = []
    matched: list[int] = []
    for customer, code, at, quantity, row in zip(
        cancels["customer"], cancels["code"], cancels["at"].to_numpy(), cancels["quantity"], cancels["row"],
        strict=True,
    ):  # fmt: skip
        wanted = max(-int(quantity), 0)
        left = wanted
        positions = groups.get((customer, code)) if customer else None
        if positions is not None and left > 0:
            earlier = positions[: np.searchsorted(pool_at[positions], at, side="right")]
            for position in earlier[::-1]:
                take = min(left, int(remaining[position]))
                if take:
                    remaining[position] -= take
                    left -= take
                    allocations.append((int(row), int(pool_row[position]), take))
                if not left:
                    break
        matched.append(wanted - left)

    allocation_frame = pd.DataFrame(
        allocations, columns=["cancel_row", "purchase_row", "quantity"], dtype="int64"
    )
    netted = np.zeros(len(lines), dtype="int64")
    np.add.at(netted, allocation_frame["purchase_row"].to_numpy(), allocation_frame["quantity"].to_numpy())

    outcome = cancels[["row", "invoice", "customer", "code", "kind", "quantity", "price"]].copy()
    outcome["wanted"] = (-outcome["quantity"]).clip(lower=0)
    outcome["matched"] = np.asarray(matched, dtype="int64")
    outcome["unmatched"] = outcome["wanted"] - outcome["matched"]
    outcome["reason"] = np.select(
        [outcome["unmatched"] == 0, outcome["customer"] == "", outcome["matched"] > 0],
        ["netted", "guest: no customer to match", "partly netted: earlier purchases exhausted"],
        default="no earlier purchase of this code (bought before the export starts)",
    )
    return Netting(netted, allocation_frame, outcome)


@dataclass
class Mapping:
    """The contract tables (every value as text), the report of how they were made, and the exact
    amounts (thousandths of a pound) the landed files must add up to."""

    tables: dict[str, pd.DataFrame]
    report: dict
    expected: dict[str, int]


def map_online_retail(source: pd.DataFrame) -> Mapping:
    """The export (columns `SOURCE_COLUMNS`) as the four contract tables, with the report."""
    lines = prepare(source)
    netting = net_cancellations(lines)
    lines["net_quantity"] = lines["quantity"] - netting.netted[lines["row"].to_numpy()]
    lines["net_amount"] = lines["net_quantity"] * lines["price"]

    orders, items, item_amounts = _orders_and_items(lines)
    tables = {
        "orders/orders": orders,
        "orders/order_items": items,
        "catalog/products": _products(lines),
        "crm/contacts": _contacts(lines),
    }
    report, expected = _report(lines, netting, tables, item_amounts)
    return Mapping(tables, report, expected)


def _first_rank(frame: pd.DataFrame, group: str, keys: list[str]) -> pd.Series:
    """Dense rank within `group` of each distinct `keys` value, in order of first appearance."""
    first_row = frame.groupby([group, *keys], sort=False)["row"].transform("min")
    return first_row.groupby(frame[group]).rank(method="dense").astype("int64")


def _orders_and_items(lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Orders and their lines, plus each landed line's amount in thousandths (for the report)."""
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
    header["subtotal"] = category_sum(LineCategory.SALE, "net_amount")
    header["shipping"] = category_sum(LineCategory.SHIPPING, "net_amount")
    discount_lines = on_orders[on_orders["category"] == LineCategory.DISCOUNT]
    header["discount"] = (
        (discount_lines["quantity"] * discount_lines["price"]).groupby(discount_lines["invoice"]).sum()
    )
    header[["subtotal", "shipping", "discount"]] = (
        header[["subtotal", "shipping", "discount"]].fillna(0).astype("int64")
    )
    header["discount"] = header["discount"].abs()
    header["total"] = header["subtotal"] - header["discount"] + header["shipping"]
    products_left = sales.groupby("invoice")["net_quantity"].sum()
    header["status"] = np.where(products_left.reindex(header.index) > 0, "completed", "cancelled")
    header = header.sort_values("first_row")

    orders = pd.DataFrame(
        {
            "order_id": header.index.astype(str),
            "contact_id": header["contact_id"].to_numpy(),
            "email": "",
            "ordered_at": iso_utc(header["at"]).to_numpy(),
            "status": header["status"].to_numpy(),
            "currency": CURRENCY,
            "subtotal": money_texts(header["subtotal"]),
            "discount": money_texts(header["discount"]),
            "shipping": money_texts(header["shipping"]),
            "total": money_texts(header["total"]),
            "channel": CHANNEL,
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


def _products(lines: pd.DataFrame) -> pd.DataFrame:
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
            "currency": CURRENCY,
            "image_url": "",
            "active": "true",
        }
    )


def _contacts(lines: pd.DataFrame) -> pd.DataFrame:
    known = lines[lines["customer"] != ""]
    invoices = known[["customer", "invoice", "country"]].drop_duplicates(["customer", "invoice"])
    country = _most_frequent(invoices, "customer", "country")
    span = known.groupby("customer")["at"].agg(["min", "max"])
    span = span.loc[sorted(span.index, key=int)]
    contacts = pd.DataFrame(
        {
            "contact_id": span.index.astype(str),
            "country": span.index.map(lambda c: country.get(c, "")).astype(str),
            "signup_at": iso_utc(span["min"]).to_numpy(),
            "updated_at": iso_utc(span["max"]).to_numpy(),
        }
    )
    return contacts


def _report(lines, netting: Netting, tables, item_amounts: np.ndarray) -> tuple[dict, dict]:
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
    orders = tables["orders/orders"]

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
        },
        "contacts": {
            "rows": len(tables["crm/contacts"]),
            "with_completed_order": len(contacts_with_orders),
            "without_completed_order": len(tables["crm/contacts"]) - len(contacts_with_orders),
            "countries": dict(Counter(tables["crm/contacts"]["country"]).most_common()),
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
