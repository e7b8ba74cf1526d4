"""The UCI Online Retail invoice lines mapped onto the raw-data contract, one documented decision
at a time. Every source line ends in exactly one category of `LineCategory` (lines.py), so the report can
prove rows in = rows out; the figures of a run are in `mapping_report.json` and the README.

The export's column names, time zone, currency, code rules and cancellation prefix are the
mapping file's (`mapping.yml`, read by `config.py`); the decisions are this docstring's, carried
out by `lines.py` (categories, netting), `tables.py` (the four contract tables) and `report.py`.

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

from dataclasses import dataclass

import pandas as pd

from examples.online_retail.config import DEFAULT_MAPPING, MappingConfig, MappingError, load_mapping
from examples.online_retail.lines import net_cancellations, prepare
from examples.online_retail.report import mapping_report
from examples.online_retail.tables import contacts, orders_and_items, products


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

    orders, items, item_amounts = orders_and_items(lines, netting, config)
    tables = {
        "orders/orders": orders,
        "orders/order_items": items,
        "catalog/products": products(lines, config),
        "crm/contacts": contacts(lines),
    }
    report, expected = mapping_report(lines, netting, tables, item_amounts)
    return Mapping(tables, report, expected)
