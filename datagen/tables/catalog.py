"""catalog/products: one row per product, an older price row first where the price changed."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import dirt, text, vocab
from datagen.batch import Batch
from datagen.config import DirtConfig
from datagen.dirt import DirtDraw
from datagen.simulate.plan import Plan
from datagen.tables.ids import product_ids

PRODUCT_COLUMNS = [
    "product_id",
    "name",
    "category",
    "subcategory",
    "price",
    "currency",
    "image_url",
    "active",
]


def product_rows(plan: Plan, rates: DirtConfig) -> Batch:
    """One row per product; a product with an older price has that row first (the last row wins)."""
    catalog = plan.catalog
    n = catalog.size
    draw = DirtDraw(plan.seed, "catalog", "products", 0, rates)
    ids = product_ids(n)
    active = catalog.discontinued_at < 0
    mask = np.zeros(n, dtype=np.uint64)
    mask[~active] |= draw.bit("inactive_product", "active")
    image = text.concat(vocab.CDN_URL + "/", pc.utf8_lower(ids), ".jpg")
    columns = {
        "product_id": ids,
        "name": catalog.names,
        "category": text.take(list(vocab.CATEGORY_NAMES), catalog.category),
        "subcategory": text.take(catalog.subcategory_names, catalog.subcategory),
        "price": text.money(catalog.price_cents),
        "currency": text.take(["USD"], np.zeros(n, np.int64)),
        "image_url": image,
        "active": dirt.booleans(active),
    }
    current = Batch(columns, ids, mask)
    older = draw.pick("product_versions", np.ones(n, dtype=bool), column="price")
    previous = current.take(older)
    factor = draw.rng("product_versions", "price").choice([0.8, 0.85, 0.9, 1.1, 1.15, 1.25], size=len(older))
    old_price = (np.floor(catalog.price_cents[older] * factor / 100) * 100 + 99).astype(np.int64)
    previous.columns["price"] = text.money(old_price)
    previous.dirt = np.full(len(older), draw.bit("product_versions", "price"), dtype=np.uint64)
    rows = Batch.concat([current, previous])
    varied = draw.pick("boolean_variants", np.ones(len(rows), dtype=bool), column="active")
    active_rows = np.concatenate([active, active[older]])
    rows.columns["active"] = text.replace_at(
        rows.columns["active"],
        varied,
        dirt.boolean_variants(draw.rng("boolean_variants", "values"), active_rows[varied]),
    )
    rows.dirt[varied] |= draw.bit("boolean_variants", "active")
    messy = draw.pick("messy_product_id", np.ones(len(rows), dtype=bool), column="product_id")
    rows.columns["product_id"] = text.replace_at(
        rows.columns["product_id"],
        messy,
        dirt.messy_product_ids(
            draw.rng("messy_product_id", "values"), rows.columns["product_id"].take(pa.array(messy))
        ),
    )
    rows.dirt[messy] |= draw.bit("messy_product_id", "product_id")
    # older version just before the current row
    position = np.concatenate([np.arange(n) * 2 + 1, older * 2]).astype(np.int64)
    return rows.take(np.argsort(position, kind="stable"))
