"""The source lines of the UCI Online Retail export, typed and categorized, and its cancellations
netted against the purchases they cancel: the line-level decisions that the docstring of
examples/online_retail/mapping.py states."""

from __future__ import annotations

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
