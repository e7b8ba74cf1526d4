"""privacy/requests: erasure and opt-out requests, numbered once every block has drawn its own."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import dirt, text
from datagen.batch import Batch
from datagen.config import DirtConfig
from datagen.dirt import DirtDraw
from datagen.rng import mask_of
from datagen.simulate.plan import Plan
from datagen.tables.crm import ContactText
from datagen.tables.ids import contact_ids
from datagen.text import DAY

PRIVACY_COLUMNS = ["request_id", "contact_id", "email", "request_type", "requested_at"]


def privacy_requests(
    plan: Plan, block: int, c: dict[str, np.ndarray], names: ContactText, address: pa.Array, rates: DirtConfig
) -> pa.Table:
    """Requests of this block, still without request ids (numbered once all blocks are known)."""
    draw = DirtDraw(plan.seed, "privacy", "requests", block, rates)
    n = names.n
    who = draw.pick("privacy_request", np.ones(n, dtype=bool))
    rng = draw.rng("privacy_request", "content")
    start = np.maximum(c["signup_at"][who], plan.as_of - 365 * DAY)
    at = start + (rng.random(len(who)) * (plan.as_of - start)).astype(np.int64)
    kind = np.where(rng.random(len(who)) < 0.4, "erasure", "opt_out")
    email_only = mask_of(len(who), draw.pick("privacy_email_only", np.ones(len(who), dtype=bool)))
    email = address.take(pa.array(who))
    email = pc.if_else(
        pa.array(email_only), dirt.messy_emails(draw.rng("privacy_email_only", "values"), email), email
    )
    contact = pc.if_else(pa.array(email_only), text.nulls(len(who)), contact_ids(names.number[who]))
    mask = np.full(len(who), draw.bit("privacy_request"), dtype=np.uint64)
    mask[email_only] |= draw.bit("privacy_email_only", "email")
    return pa.table(
        {
            "contact_id": contact,
            "email": email,
            "request_type": pa.array(kind, pa.string()),
            "requested_at": pa.array(at, pa.int64()),
            "contact_number": pa.array(names.number[who], pa.int64()),
            "dirt": pa.array(mask, pa.uint64()),
        }
    )


def privacy_rows(requests: pa.Table) -> Batch:
    order = np.lexsort(
        (requests.column("contact_number").to_numpy(), requests.column("requested_at").to_numpy())
    )
    requests = requests.take(pa.array(order))
    ids = text.prefixed_ids("PR-", np.arange(1, requests.num_rows + 1), 7)
    columns = {
        "request_id": ids,
        "contact_id": requests.column("contact_id").combine_chunks(),
        "email": requests.column("email").combine_chunks(),
        "request_type": requests.column("request_type").combine_chunks(),
        "requested_at": text.iso_timestamps(requests.column("requested_at").to_numpy()),
    }
    return Batch(columns, ids, requests.column("dirt").to_numpy().astype(np.uint64))
