"""email/campaigns and email/events: the campaign list, and engagement events with their dirt."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datagen import dirt, text, vocab
from datagen.batch import Batch
from datagen.config import DirtConfig
from datagen.dirt import DirtDraw
from datagen.rng import mix64, segment_positions
from datagen.simulate.email import EMAIL_TYPES, OPEN
from datagen.simulate.plan import Plan
from datagen.tables.ids import contact_ids, dirt_uids, event_uids

CAMPAIGN_COLUMNS = ["campaign_id", "name", "subject", "sent_at", "segment_name"]
EMAIL_COLUMNS = ["event_id", "campaign_id", "contact_id", "email", "event_type", "event_at", "url"]
EMAIL_ID_SALT = 0xE3A1_1000_E7E1_7002


def campaign_rows(plan: Plan) -> Batch:
    campaigns = plan.campaigns
    ids = pa.array(campaigns.ids, pa.string())
    segment = np.where(campaigns.segment_known, campaigns.segment, -1)
    columns = {
        "campaign_id": ids,
        "name": pa.array(campaigns.names, pa.string()),
        "subject": pa.array(campaigns.subjects, pa.string()),
        "sent_at": text.iso_timestamps(campaigns.sent_at),
        "segment_name": text.take([s[0] for s in vocab.CAMPAIGN_SEGMENTS], segment),
    }
    return Batch(columns, ids, np.zeros(campaigns.size, dtype=np.uint64))


def email_spool_rows(
    plan: Plan, block: int, offset: int, email: dict[str, np.ndarray], rates: DirtConfig
) -> pa.Table:
    """Numeric e-mail rows of a block with machine opens, repeated opens, duplicates and date formats."""
    draw = DirtDraw(plan.seed, "email", "events", block, rates)
    n = len(email["type"])
    rows = {
        "uid": event_uids(block, n),
        "campaign": email["campaign"].astype(np.int64),
        "contact": (offset + email["contact"] + 1).astype(np.int64),
        "type": email["type"].astype(np.int8),
        "at": email["at"].astype(np.int64),
        "dirt": np.zeros(n, dtype=np.uint64),
    }
    delivered = np.flatnonzero(rows["type"] == EMAIL_TYPES.index("delivered"))
    recipients = np.unique(rows["contact"][delivered])
    proxied = recipients[draw.pick("machine_opens", np.ones(len(recipients), dtype=bool))]
    machine = delivered[np.isin(rows["contact"][delivered], proxied)]
    rng = draw.rng("machine_opens", "delay")
    machine_rows = {k: v[machine].copy() for k, v in rows.items()}
    machine_rows["uid"] = dirt_uids(block, len(machine))
    machine_rows["type"][:] = OPEN
    machine_rows["at"] = machine_rows["at"] + rng.integers(0, 3, size=len(machine))
    machine_rows["dirt"][:] = draw.bit("machine_opens", "event_type")

    opens = np.flatnonzero(rows["type"] == OPEN)
    repeated = draw.pick("repeated_opens", opens, base=len(opens), column="event_type")
    repeat_rng = draw.rng("repeated_opens", "times")
    times = 1 + repeat_rng.binomial(2, 0.3, size=len(repeated))
    source, _ = segment_positions(times)
    repeat_rows = {k: v[repeated[source]].copy() for k, v in rows.items()}
    k = len(source)
    repeat_rows["uid"] = dirt_uids(block, k, lane=1)
    repeat_rows["at"] = repeat_rows["at"] + (repeat_rng.exponential(6 * 3600, size=k)).astype(np.int64) + 30
    repeat_rows["dirt"][:] = draw.bit("repeated_opens", "event_type")
    rows = {key: np.concatenate([rows[key], machine_rows[key], repeat_rows[key]]) for key in rows}
    kept = rows["at"] < plan.as_of
    rows = {key: value[kept] for key, value in rows.items()}
    dirt.format_event_times(draw, rows)
    rows = dirt.duplicate_events(draw, rows, plan.as_of)
    rows["period"] = plan.period_of(rows["arrival"])
    return pa.table({key: pa.array(value) for key, value in rows.items()})


def email_rows(plan: Plan, chunk: pa.Table, esp_emails: pa.Array) -> Batch:
    column = {name: chunk.column(name).to_numpy() for name in chunk.column_names}
    event_id = text.hex_ids(mix64(column["uid"], EMAIL_ID_SALT))
    kind = column["type"].astype(np.int64)
    url = pc.if_else(
        pa.array(kind == EMAIL_TYPES.index("click")),
        plan.campaigns.urls.take(pa.array(column["campaign"])),
        text.nulls(chunk.num_rows),
    )
    columns = {
        "event_id": event_id,
        "campaign_id": text.take(plan.campaigns.ids, column["campaign"]),
        "contact_id": contact_ids(column["contact"]),
        "email": esp_emails.take(pa.array(column["contact"] - 1)),
        "event_type": text.take(list(EMAIL_TYPES), kind),
        "event_at": dirt.format_timestamps(column["at"], column["fmt"], column["aux"]),
        "url": url,
    }
    return Batch(columns, event_id, column["dirt"].astype(np.uint64))
