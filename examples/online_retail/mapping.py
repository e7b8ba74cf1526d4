"""The UCI Online Retail invoice lines mapped onto the raw-data contract, one documented decision
at a time. Every source line ends in exactly one category of `LineCategory`, so the report can
prove rows in = rows out; the figures of a run are in `mapping_report.json` and the README.

The export's column names, time zone, currency, code rules and cancellation prefix are the
mapping file's (`mapping.yml`, read by `config.py`); the decisions below are this module's.

Stock codes (matched upper-cased, the way staging canonicalizes product ids, against the mapping's
patterns in order)
- Product: five digits plus optional letters (`85123A`, `15056BL`, `79323GR`) or a
  `DCGS…` code (the shop's dotcom-giftshop items: party bags, collars, an ashtray). Every other
  code in the export is a named service code below; a code matching nothing is counted as
  `unknown_code` and left out, so a new code shows up in the report instead of as revenue.
- Shipping: POST, DOT (dotcom postage), C2 (carriage) become the order's `shipping`.
- Discount: D. On an ordinary invoice it would become the order's `discount`; in this export every
  D line sits on a cancellation invoice (a credit note granted after the sale with no link to the
  order it rewards), so it is counted as `discount_credit` and left out: crediting it to some
  earlier order of the customer would be a guess.
- Fees (BANK CHARGES, AMAZONFEE, CRUK charity commission), adjustments (M/m manual, B bad-debt
  adjustment, S samples, PADS a 0.001 price placeholder) and gift vouchers `gift_0001_*` (selling a
  voucher is not selling a product: the revenue is booked when it is spent): neither product lines
  nor revenue, counted per code. A code of no kind is reported with counts and examples.

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

An order lands as versions, `updated_at` saying when each was written: as invoiced (at
ordered_at, nothing netted), then one more at each moment a cancellation was netted against it
(the cancellation's time; the order's when the cancellation is not later), with the amounts and
status after it. So at any earlier as_of, or feature cutoff, the pipeline sees the order as it was
then, never a cancellation that had not happened yet. The latest version is the order as the
export ends.

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
upper-cases it), quantity after all netting, unit_price. The contract keeps no versions of lines,
so line-level facts (products bought, for recommendations) at an earlier as_of still miss what was
cancelled later; amounts and statuses, which purchase features, RFM and labels read, are versioned.

Products (catalog/products): one row per canonical (upper-cased) product code sold at a price above
zero, so `85123a` and `85123A` are one product, as staging would treat them; name = the most
frequent description (ties: alphabetical), price = median unit price of its sale lines, GBP,
active. The export has no categories and no images: category, subcategory and image_url are blank.

Contacts (crm/contacts): a CustomerID seen on any line (cancellations included: the shop knows
them) lands as versions of what the shop knew: the first written at the customer's first invoice
(signup_at = updated_at = that time, UTC), with that invoice's country as the export spells it,
and a new one whenever the country of most of their invoices so far changes (a tie keeps the
current one). A record dated at the last invoice would say "this customer buys until then" to any
earlier as_of: a customer first seen later has no record yet, not a record without a country. The
export has no e-mail addresses and no consent: email and email_opt_in are blank, so nobody is
contactable. The example exercises profiles, RFM and segments, never an ESP export.

Money is handled in integer thousandths of a pound (the finest price step in the export is 0.001),
so every total in the report reconciles exactly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from examples.online_retail.config import DEFAULT_MAPPING, MappingConfig, MappingError, load_mapping


class CodeKind(StrEnum):
    PRODUCT = "product"
    SHIPPING = "shipping"
    DISCOUNT = "discount"
    FEE = "fee"
    ADJUSTMENT = "adjustment"
    VOUCHER = "voucher"
    UNKNOWN = "unknown"


# Neither product lines nor revenue: counted per code, left out.
NOT_REVENUE = (CodeKind.FEE, CodeKind.ADJUSTMENT, CodeKind.VOUCHER)


class LineCategory(StrEnum):
    """Where a source line went; every line gets exactly one."""

    SALE = "product_sale"  # landed as an order line (unless netted to zero)
    SHIPPING = "shipping"  # added to its order's shipping
    SHIPPING_WITHOUT_ORDER = "shipping_on_invoice_without_products"
    DISCOUNT = "discount"  # added to its order's discount
    DISCOUNT_WITHOUT_ORDER = "discount_on_invoice_without_products"
    DISCOUNT_CREDIT = "discount_credit"  # D on a cancellation invoice
    ADJUSTMENT = "non_product_adjustment"  # fees, adjustments, vouchers
    UNKNOWN_CODE = "unknown_code"
    WRITE_OFF = "stock_write_off"
    ZERO_PRICE = "zero_price_product"
    CANCELLATION = "cancellation"  # product or shipping code on a C invoice: netted


def code_kind(code: str, config: MappingConfig | None = None) -> CodeKind:
    """The kind of an upper-cased stock code: the first kind of the mapping whose pattern matches."""
    config = config or load_mapping(DEFAULT_MAPPING)
    for kind, patterns in config.codes.items():
        if any(pattern.fullmatch(code) for pattern in patterns):
            return CodeKind(kind)
    return CodeKind.UNKNOWN


def local_to_utc(local: str, zone: ZoneInfo) -> datetime:
    """A 'YYYY-MM-DD HH:MM:SS' wall-clock time in `zone` as naive UTC. In the autumn hour that
    happens twice zoneinfo takes the first (summer-time) reading; the shop sold nothing at 01:00."""
    return datetime.fromisoformat(local).replace(tzinfo=zone).astimezone(UTC).replace(tzinfo=None)


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


def prepare(source: pd.DataFrame, config: MappingConfig) -> pd.DataFrame:
    """Typed, normalized lines with their code kind and UTC time, under the contract's meanings;
    refuses what the money accounting could not represent exactly rather than rounding it away."""
    missing = [column for column in config.export_columns if column not in source.columns]
    if missing:
        raise MappingError(
            f"the export lacks the column(s) {missing} that {config.path} names; "
            f"its columns are {list(source.columns)}"
        )
    frame = source.rename(columns={column: meaning for meaning, column in config.columns.items()})
    frame = frame.reset_index(drop=True)
    price = frame["unit_price"].astype("float64").to_numpy()
    thousandths = np.rint(price * 1000)
    if np.isnan(price).any() or (np.abs(price * 1000 - thousandths) > 1e-6).any():
        raise ValueError(f"{config.columns['unit_price']} is blank or finer than 0.001 on some lines")
    if frame[["quantity", "invoice", "invoiced_at"]].isna().any().any():
        blank = [config.columns[m] for m in ("invoice", "quantity", "invoiced_at")]
        raise ValueError(f"{', '.join(blank)} is blank on some lines")
    customer = frame["customer_id"].astype("float64")
    if (customer.dropna() % 1 != 0).any():
        raise ValueError(f"{config.columns['customer_id']} is not a whole number on some lines")

    local = frame["invoiced_at"].astype(str).str.strip()
    utc_by_local = {text: local_to_utc(text, config.time_zone) for text in local.unique()}
    lines = pd.DataFrame(
        {
            "row": np.arange(len(frame), dtype="int64"),
            "invoice": frame["invoice"].astype(str).str.strip(),
            "stock_code": frame["stock_code"].astype(str).str.strip(),
            "description": frame["description"].astype("str").str.strip(),
            "quantity": frame["quantity"].astype("int64"),
            "price": thousandths.astype("int64"),
            "at": pd.to_datetime(local.map(utc_by_local)),
            "customer": np.where(customer.isna(), "", customer.fillna(0).astype("int64").astype(str)),
            "country": frame["country"].astype("str").str.strip(),
        }
    )
    lines["code"] = lines["stock_code"].str.upper()
    prefix = config.cancellation_prefix
    lines["is_cancellation"] = lines["invoice"].str.startswith(prefix) if prefix else False
    # Plain Python strings from here: grouping and filtering half a million of them is several
    # times faster than through pandas' Arrow-backed default string type.
    for column in ("invoice", "stock_code", "code", "description", "customer", "country"):
        lines[column] = lines[column].astype(object)
    kinds = {code: str(code_kind(code, config)) for code in lines["code"].unique()}
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
        kind.isin(NOT_REVENUE),
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


def map_online_retail(source: pd.DataFrame, config: MappingConfig | None = None) -> Mapping:
    """The export (the columns the mapping names) as the four contract tables, with the report."""
    config = config or load_mapping(DEFAULT_MAPPING)
    if config.identity.get("email"):
        raise MappingError(f"{config.path}: identity.email is not supported by this invoice-line mapping")
    lines = prepare(source, config)
    netting = net_cancellations(lines)
    lines["net_quantity"] = lines["quantity"] - netting.netted[lines["row"].to_numpy()]
    lines["net_amount"] = lines["net_quantity"] * lines["price"]

    orders, items, item_amounts = _orders_and_items(lines, netting, config)
    tables = {
        "orders/orders": orders,
        "orders/order_items": items,
        "catalog/products": _products(lines, config),
        "crm/contacts": _contacts(lines),
    }
    report, expected = _report(lines, netting, tables, item_amounts)
    return Mapping(tables, report, expected)


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


def _orders_and_items(
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


def _products(lines: pd.DataFrame, config: MappingConfig) -> pd.DataFrame:
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


def _contacts(lines: pd.DataFrame) -> pd.DataFrame:
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
