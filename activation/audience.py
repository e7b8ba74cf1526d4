"""Turn a desired-audience frame into members we may export, and the ones we must not.

SQL decides who is in an audience (restricted.audience_export): consent, the e-mail's validity
(`is_email_valid`, var valid_email_pattern) and the holdout arm. This module carries those
decisions out and re-checks the suppression frame and erasures as a second line; it never tests an
address against a pattern or assigns an arm itself, and fails loudly, naming the rows, when a row
breaks the columns' contract. Every row comes out either eligible (with a payload hash for the
diff) or excluded with a reason, so rows in = eligible + excluded always holds."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from activation.errors import InputError
from activation.experiments import CONTROL, HOLDOUT_COLUMNS, SHOWN, holdout_assignments
from activation.payload import (
    JSON_FIELDS,
    arrow_text,
    as_objects,
    clean,
    payload_hashes,
    per_distinct,
    products,
    send_hour,
)
from warehouse.context import connect_in_memory

REQUIRED_COLUMNS = ("destination", "list_key", "customer_key", "email", "is_email_valid")
KNOWN_FIELDS = (
    "first_name",
    "last_name",
    "rfm_segment",
    "cluster_name",
    "loyalty_tier",
    "offer",
    "preferred_send_hour",
    "recommended_products",
    "cart_items",
    "currency",
)
# Columns that steer the sync and are never sent; holdout_arm, like any other column, is sent as a
# custom field (the arm: treatment or a content-test variant, never control, in what is sent).
CONTROL_COLUMNS = (
    "destination",
    "list_key",
    "campaign_key",
    "customer_key",
    "email",
    "is_email_valid",
    *(c for c in HOLDOUT_COLUMNS if c != "holdout_arm"),
)
SUPPRESSION_REASONS = frozenset(
    {
        "not_opted_in",
        "unsubscribed",
        "bounced",
        "complained",
        "invalid_email",
        "erasure_requested",
        "opted_out",
        "suppressed_on_doubt",
    }
)
CONSENT_REASONS = SUPPRESSION_REASONS
ERASURE = "erasure_requested"


def _email_keys(values: pd.Series) -> pa.Array:
    """Trimmed, lower-cased e-mail (null when missing): the member key."""
    return pc.utf8_lower(pc.utf8_trim_whitespace(arrow_text(values)))


def normalize_email(values: pd.Series) -> pd.Series:
    """Trimmed, lower-cased e-mail as object values (None when missing)."""
    return as_objects(_email_keys(values), values.index)


def _lookup(values: pa.Array, mapping: dict[str, str]) -> pa.Array:
    """The value `mapping` has for each of `values` (null when none), by Arrow's hash lookup."""
    keys = pa.array(list(mapping), type=pa.string())
    found = pa.array(list(mapping.values()), type=pa.string())
    return found.take(pc.index_in(values, value_set=keys))


class SuppressionIndex:
    """Everyone who must never be exported: the suppression frame (restricted.suppressed_addresses),
    the addresses of erased people (restricted.erasure_targets, or any frame with an `email` or
    `customer_key` column) and addresses the warehouse's erasure tombstones match."""

    def __init__(
        self,
        suppressions: pd.DataFrame | None,
        erasure_requests: pd.DataFrame | None = None,
        erased_emails: Iterable[str] = (),
    ):
        self.by_email: dict[str, str] = {}
        self.by_customer: dict[str, str] = {}
        if suppressions is not None and not suppressions.empty:
            missing = {"email", "customer_key", "reason"} - set(suppressions.columns)
            if missing:
                raise InputError(f"suppression frame lacks columns {sorted(missing)}")
            unknown = set(suppressions["reason"].dropna()) - SUPPRESSION_REASONS
            if unknown:
                raise InputError(f"suppression frame has unknown reasons {sorted(unknown)}")
            if suppressions["reason"].isna().any():
                raise InputError("suppression frame has rows without a reason")
            emails = normalize_email(suppressions["email"])
            for email, reason in zip(emails, suppressions["reason"], strict=True):
                if isinstance(email, str) and email:
                    self.by_email.setdefault(email, reason)
            for key, reason in zip(suppressions["customer_key"], suppressions["reason"], strict=True):
                if isinstance(key, str) and key:
                    self.by_customer.setdefault(key, reason)
        if erasure_requests is not None and not erasure_requests.empty:
            if not {"email", "customer_key"} & set(erasure_requests.columns):
                raise InputError("erasure frame needs an email or a customer_key column")
            if "email" in erasure_requests.columns:
                for email in normalize_email(erasure_requests["email"]):
                    if isinstance(email, str) and email:
                        self.by_email[email] = ERASURE
            if "customer_key" in erasure_requests.columns:
                for key in erasure_requests["customer_key"]:
                    if isinstance(key, str) and key:
                        self.by_customer[key] = ERASURE
        for email in erased_emails:
            self.by_email[email] = ERASURE

    def reason_array(self, emails: pa.Array, customer_keys: pa.Array) -> pa.Array:
        """The exclusion reason per member key and customer key (null when the person may be
        exported); erasure wins."""
        by_email = _lookup(emails, self.by_email)
        by_key = _lookup(customer_keys, self.by_customer)
        erasure = pc.or_kleene(pc.equal(by_email, ERASURE), pc.equal(by_key, ERASURE)).fill_null(False)
        return pc.if_else(erasure, ERASURE, pc.coalesce(by_email, by_key))

    def reasons(self, emails: pd.Series, customer_keys: pd.Series) -> pd.Series:
        """reason_array for pandas columns: the reason per row, None when the person may be
        exported."""
        found = self.reason_array(
            pa.array(emails, type=pa.string(), from_pandas=True),
            pa.array(customer_keys, type=pa.string(), from_pandas=True),
        )
        return as_objects(found, emails.index)


@dataclass
class PreparedAudience:
    """One list's members split into eligible (`members`, an Arrow table with the payload hash)
    and excluded (with reason)."""

    destination: str
    list_key: str
    members: pa.Table
    excluded: pd.DataFrame
    fields: list[str]
    assignments: pd.DataFrame
    _eligible: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def eligible(self) -> pd.DataFrame:
        """The eligible members as a pandas frame of object columns (None when missing), built at
        first use: the file snapshot and the tests read it, the diff reads `members`."""
        if self._eligible is None:
            self._eligible = pd.DataFrame(
                {name: as_objects(self.members.column(name)) for name in self.members.column_names}
            )
        return self._eligible

    @property
    def rows_in(self) -> int:
        return self.members.num_rows + len(self.excluded)


def validate_frame(desired: pd.DataFrame) -> None:
    """The frame as a whole meets the contract of restricted.audience_export: required columns,
    is_email_valid true or false (true only with an address), holdout columns consistent."""
    if not isinstance(desired, pd.DataFrame):
        raise InputError(f"desired audience must be a pandas DataFrame, got {type(desired).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in desired.columns]
    if missing:
        raise InputError(f"desired audience lacks required columns {missing}")
    valid = desired["is_email_valid"]
    address = pd.Series(
        pc.not_equal(_email_keys(desired["email"]), "").fill_null(False).to_numpy(zero_copy_only=False),
        index=desired.index,
    )
    _refuse(desired, ~valid.isin([True, False]) | valid.isna(), "is_email_valid is not true or false")
    _refuse(desired, (valid == True) & ~address, "is_email_valid is true without an address")  # noqa: E712
    holdout_assignments(_keys(desired))


def _keys(desired: pd.DataFrame) -> pd.DataFrame:
    """The frame with trimmed customer and campaign keys (None when blank or missing)."""
    campaign = (
        _clean_text(desired["campaign_key"])
        if "campaign_key" in desired.columns
        else pd.Series(None, index=desired.index, dtype=object)
    )
    return desired.assign(customer_key=_clean_text(desired["customer_key"]), campaign_key=campaign)


def _refuse(desired: pd.DataFrame, broken: pd.Series, rule: str) -> None:
    """Fail loudly when rows break `rule`, naming the first few (list and customer, never the
    address)."""
    broken = broken.fillna(True).astype(bool)
    if not broken.any():
        return
    bad = desired.loc[broken]
    named = ", ".join(
        f"{d}/{k}: {c}"
        for d, k, c in bad[["destination", "list_key", "customer_key"]].head(SHOWN).itertuples(index=False)
    )
    more = f" and {len(bad) - SHOWN} more" if len(bad) > SHOWN else ""
    raise InputError(
        f"desired audience breaks its contract in {len(bad)} row(s) ({rule}): {named}{more}; "
        "restricted.audience_export decides this, activation does not"
    )


def field_columns(desired: pd.DataFrame) -> list[str]:
    """The merge fields present: the known ones first, then every extra column as a custom field."""
    known = [c for c in KNOWN_FIELDS if c in desired.columns]
    extra = sorted(c for c in desired.columns if c not in KNOWN_FIELDS and c not in CONTROL_COLUMNS)
    return known + extra


def _clean_text(values: pd.Series) -> pd.Series:
    """Trimmed text, None for null or blank (object values)."""
    return as_objects(clean(arrow_text(values)), values.index)


def _duplicates(member_keys: pa.Array, customer_keys: pa.Array, candidates: np.ndarray) -> np.ndarray:
    """Among the `candidates` rows, those whose e-mail an earlier row already has, in the order of
    member key, customer key and row (the smallest customer key keeps the address)."""
    rows = pa.table(
        {
            "row": pa.array(candidates, type=pa.int64()),
            "member_key": member_keys.take(candidates),
            "customer_key": customer_keys.take(candidates),
        }
    )
    with connect_in_memory() as con:
        con.register("candidates", rows)
        found = con.execute(
            """WITH repeated AS (
                   SELECT member_key FROM candidates GROUP BY member_key HAVING count(*) > 1)
               SELECT row FROM (
                   SELECT row, row_number() OVER (
                       PARTITION BY member_key ORDER BY customer_key, row) AS nth
                   FROM candidates SEMI JOIN repeated USING (member_key))
               WHERE nth > 1"""
        ).fetchnumpy()["row"]
    return np.asarray(found, dtype=np.int64)


def prepare_audience(
    desired: pd.DataFrame,
    destination: str,
    list_key: str,
    suppression: SuppressionIndex,
) -> PreparedAudience:
    """Split one list's desired rows into eligible and excluded, most serious reason first:
    erasure, suppression, invalid e-mail, missing customer key, holdout control, invalid merge
    field values, duplicate e-mail. The columns are Arrow arrays; eligible members come out as an
    Arrow table."""
    fields = field_columns(desired)
    keyed = _keys(desired)
    columns = {
        "member_key": _email_keys(desired["email"]),
        "customer_key": pa.array(keyed["customer_key"], type=pa.string(), from_pandas=True),
        "campaign_key": pa.array(keyed["campaign_key"], type=pa.string(), from_pandas=True),
    }
    reason = suppression.reason_array(columns["member_key"], columns["customer_key"])

    def flag(mask: pa.Array | np.ndarray, why: str) -> None:
        nonlocal reason
        if isinstance(mask, np.ndarray):
            mask = pa.array(mask, type=pa.bool_())
        mask = pc.and_(mask.fill_null(False), pc.is_null(reason))
        reason = pc.if_else(mask, why, reason)

    flag((desired["is_email_valid"] != True).fillna(False).astype(bool).to_numpy(), "invalid_email")  # noqa: E712
    flag(pc.is_null(columns["customer_key"]), "missing_customer_key")
    assignments = holdout_assignments(keyed)
    flag(desired.index.isin(assignments.index[assignments["arm"] == CONTROL]), "holdout_control")

    for name in fields:
        if name == "preferred_send_hour":
            text, bad = send_hour(desired[name])
            columns[name] = pa.array(text, type=pa.string(), from_pandas=True)
            flag(bad.to_numpy(), "invalid_preferred_send_hour")
        elif name in JSON_FIELDS:
            columns[name], bad = products(desired[name], needs_quantity=name == "cart_items")
            flag(bad, f"invalid_{name}")
        elif name == "currency":
            columns[name] = per_distinct(clean(arrow_text(desired[name])), str.upper)
        else:
            columns[name] = clean(arrow_text(desired[name]))

    reasons = reason.to_numpy(zero_copy_only=False)
    candidates = np.flatnonzero(pd.isna(reasons))
    reasons[_duplicates(columns["member_key"], columns["customer_key"], candidates)] = "duplicate_email"
    keep = pd.isna(reasons)
    table = pa.table(columns)
    if not keep.all():
        table = table.filter(pa.array(keep))
    members = table.append_column("payload_hash", payload_hashes(table, fields))
    excluded = np.flatnonzero(~keep)
    return PreparedAudience(
        destination=destination,
        list_key=list_key,
        members=members,
        excluded=pd.DataFrame(
            {
                "member_key": as_objects(columns["member_key"].take(excluded)),
                "customer_key": as_objects(columns["customer_key"].take(excluded)),
                "reason": pd.Series(reasons[excluded], dtype=object),
            }
        ),
        fields=fields,
        assignments=assignments,
    )


def member_fields(row: dict, fields: list[str]) -> dict[str, Any]:
    """The non-null fields of one eligible row, typed for sending: the send hour as int, the
    recommendations and cart lines as parsed lists."""
    out: dict[str, Any] = {}
    for name in fields:
        value = row.get(name)
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        if name == "preferred_send_hour":
            out[name] = int(value)
        elif name in JSON_FIELDS:
            out[name] = json.loads(value)
        else:
            out[name] = value
    return out
