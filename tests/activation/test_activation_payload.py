"""A member's payload (activation/payload.py): the canonical text and its SHA-1, built by Arrow and
DuckDB, are byte for byte what the sync state already holds, and each distinct JSON text is checked
once."""

from __future__ import annotations

import hashlib
import json

import pyarrow as pa

from activation import payload
from activation.audience import SuppressionIndex, prepare_audience
from tests.activation.helpers import audience, email_of, no_suppressions


def _prepared(frame):
    return prepare_audience(frame, "mailchimp", "vip", SuppressionIndex(no_suppressions()))


def _old_canonical(row: dict, fields: list[str]) -> str:
    """The canonical text as the state's hashes were first made: e-mail, then every non-null
    field as name and value."""
    text = "email\x1f" + row["member_key"]
    for name in fields:
        if row[name] is not None:
            text += f"\x1e{name}\x1f{row[name]}"
    return text


def test_the_payload_hash_is_the_sha1_of_the_canonical_text_the_state_already_holds():
    frame = audience("mailchimp", "vip", range(3))
    frame["currency"] = [" eur", None, "Ünï"]
    frame.loc[0, "email"] = "  User0000000@Example.COM "
    frame.loc[1, "first_name"] = "  Zoë \u00a0"
    frame.loc[1, "recommended_products"] = " " + json.dumps([{"product_id": "Ä", "name": "Crème"}]) + " "
    frame.loc[2, "offer"] = "   "
    prepared = _prepared(frame)
    rows = prepared.eligible.to_dict("records")
    assert rows[0]["member_key"] == email_of(0) and rows[1]["first_name"] == "Zoë"
    assert rows[2]["offer"] is None and rows[0]["currency"] == "EUR"
    for row in rows:
        expected = hashlib.sha1(_old_canonical(row, prepared.fields).encode()).hexdigest()
        assert row["payload_hash"] == expected
    assert prepared.members.column("payload_hash").to_pylist() == [r["payload_hash"] for r in rows]


def test_hashing_in_chunks_gives_the_hashes_of_hashing_at_once(monkeypatch):
    members = _prepared(audience("mailchimp", "vip", range(25))).members
    whole = payload.payload_hashes(members, ["first_name", "offer"])
    monkeypatch.setattr(payload, "HASH_CHUNK_ROWS", 4)
    assert payload.payload_hashes(members, ["first_name", "offer"]).equals(whole)
    assert payload.payload_hashes(members.slice(0, 0), ["first_name"]).to_pylist() == []


def test_each_distinct_product_text_is_checked_once_however_many_members_share_it(monkeypatch):
    frame = audience("mailchimp", "vip", range(40))
    frame["recommended_products"] = [f'[{{"product_id": "P{k % 3}"}}]' for k in range(40)]
    frame.loc[5, "recommended_products"] = "  " + frame.loc[5, "recommended_products"]
    checked = []
    real = payload._check_items
    monkeypatch.setattr(payload, "_check_items", lambda text, q: checked.append(text) or real(text, q))
    prepared = _prepared(frame)
    assert sorted(checked) == sorted({f'[{{"product_id": "P{k}"}}]' for k in range(3)})
    assert prepared.members.num_rows == 40


def test_the_eligible_frame_is_built_only_when_someone_reads_it():
    prepared = _prepared(audience("mailchimp", "vip", range(5)))
    assert isinstance(prepared.members, pa.Table) and prepared._eligible is None
    assert prepared.rows_in == 5
    eligible = prepared.eligible
    assert list(eligible.columns) == prepared.members.column_names
    assert all(eligible[c].dtype == object for c in eligible.columns)
    assert prepared.eligible is eligible
