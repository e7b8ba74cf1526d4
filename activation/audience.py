"""Turn a desired-audience frame into members we may export, and the ones we must not.

SQL decides who is in an audience (restricted.audience_export): consent, the e-mail's validity
(`is_email_valid`, var valid_email_pattern) and the holdout arm. This module carries those
decisions out and re-checks the suppression frame and erasures as a second line; it never tests an
address against a pattern or assigns an arm itself, and fails loudly, naming the rows, when a row
breaks the columns' contract. Every row comes out either eligible (with a payload hash for the
diff) or excluded with a reason, so rows in = eligible + excluded always holds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from activation.errors import InputError
from activation.experiments import CONTROL, HOLDOUT_COLUMNS, SHOWN, holdout_assignments

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
# Merge fields holding a JSON list of products; cart lines also carry how many were added.
JSON_FIELDS = ("recommended_products", "cart_items")
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


def normalize_email(values: pd.Series) -> pd.Series:
    """Trimmed, lower-cased e-mail as object values (None when missing)."""
    text = values.astype("string").str.strip().str.lower()
    return text.astype(object).where(text.notna(), None)


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
                        self.by_email[email] = "erasure_requested"
            if "customer_key" in erasure_requests.columns:
                for key in erasure_requests["customer_key"]:
                    if isinstance(key, str) and key:
                        self.by_customer[key] = "erasure_requested"
        for email in erased_emails:
            self.by_email[email] = "erasure_requested"

    def reasons(self, emails: pd.Series, customer_keys: pd.Series) -> pd.Series:
        """The exclusion reason per row (None when the person may be exported); erasure wins."""
        reason = emails.map(self.by_email)
        by_key = customer_keys.map(self.by_customer)
        reason = reason.where(reason.notna(), by_key)
        erasure = (emails.map(self.by_email) == "erasure_requested") | (
            customer_keys.map(self.by_customer) == "erasure_requested"
        )
        return reason.where(~erasure.fillna(False).astype(bool), "erasure_requested")


@dataclass
class PreparedAudience:
    """One list's members split into eligible (with payload hash) and excluded (with reason)."""

    destination: str
    list_key: str
    eligible: pd.DataFrame
    excluded: pd.DataFrame
    fields: list[str]
    assignments: pd.DataFrame

    @property
    def rows_in(self) -> int:
        return len(self.eligible) + len(self.excluded)


def validate_frame(desired: pd.DataFrame) -> None:
    """The frame as a whole meets the contract of restricted.audience_export: required columns,
    is_email_valid true or false (true only with an address), holdout columns consistent."""
    if not isinstance(desired, pd.DataFrame):
        raise InputError(f"desired audience must be a pandas DataFrame, got {type(desired).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in desired.columns]
    if missing:
        raise InputError(f"desired audience lacks required columns {missing}")
    valid = desired["is_email_valid"]
    address = normalize_email(desired["email"]).map(lambda e: isinstance(e, str) and e != "")
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
    """Trimmed text, None for null or blank; vectorised (pyarrow strings)."""
    text = values.astype("string").str.strip()
    text = text.mask(text == "")
    return text.astype(object).where(text.notna(), None)


def _send_hour(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Canonical text of preferred_send_hour and a mask of invalid rows (not a whole number in
    0..23)."""
    present = values.notna() & (values.astype("string").str.strip() != "").fillna(False).astype(bool)
    numbers = pd.to_numeric(values.where(present), errors="coerce")
    valid = numbers.notna() & (numbers % 1 == 0) & numbers.between(0, 23)
    bad = present & ~valid
    text = numbers.where(valid).astype("Int64").astype("string")
    return text.astype(object).where(valid, None), bad.astype(bool)


def _is_quantity(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_items(text: str, needs_quantity: bool) -> bool:
    try:
        items = json.loads(text)
    except ValueError:
        return False
    if not isinstance(items, list) or not all(isinstance(i, dict) and i.get("product_id") for i in items):
        return False
    return not needs_quantity or all(_is_quantity(i.get("quantity")) for i in items)


def _products(values: pd.Series, needs_quantity: bool = False) -> tuple[pd.Series, pd.Series]:
    """A JSON list field (recommended_products, cart_items) as trimmed JSON text and a mask of
    invalid rows (not a JSON list of objects with a product_id, and for cart lines a whole quantity
    of at least 1). An empty list counts as no value, so it never blanks an ESP field."""
    text = _clean_text(values.map(lambda v: json.dumps(v) if isinstance(v, list) else v))
    text = text.where(text != "[]", None)
    present = text.notna()
    unique = pd.unique(text[present])
    verdict = {value: _check_items(value, needs_quantity) for value in unique}
    ok = text.map(verdict).astype(object).where(present, True).astype(bool)
    bad = present & ~ok
    return text.where(~bad, None), bad.astype(bool)


def payload_hashes(frame: pd.DataFrame, fields: list[str]) -> pd.Series:
    """SHA-1 of the canonical payload (e-mail and every non-null field), the diff's change key."""
    canonical = "email\x1f" + frame["member_key"].astype("string")
    for name in fields:
        column = frame[name].astype("string")
        canonical = canonical + (f"\x1e{name}\x1f" + column).fillna("")
    return pd.Series(
        [hashlib.sha1(text.encode()).hexdigest() for text in canonical.tolist()],
        index=frame.index,
        dtype=object,
    )


def prepare_audience(
    desired: pd.DataFrame,
    destination: str,
    list_key: str,
    suppression: SuppressionIndex,
) -> PreparedAudience:
    """Split one list's desired rows into eligible and excluded, most serious reason first:
    erasure, suppression, invalid e-mail, missing customer key, holdout control, invalid merge
    field values, duplicate e-mail."""
    fields = field_columns(desired)
    keyed = _keys(desired)
    frame = pd.DataFrame(index=desired.index)
    frame["member_key"] = normalize_email(desired["email"])
    frame["customer_key"] = keyed["customer_key"]
    frame["campaign_key"] = keyed["campaign_key"]
    reason = pd.Series(None, index=frame.index, dtype=object)

    def flag(mask: pd.Series, why: str) -> None:
        nonlocal reason
        mask = mask.fillna(False).astype(bool) & reason.isna()
        reason = reason.where(~mask, why)

    suppressed = suppression.reasons(frame["member_key"], frame["customer_key"])
    reason = reason.where(suppressed.isna(), suppressed)
    flag(desired["is_email_valid"] != True, "invalid_email")  # noqa: E712
    flag(frame["customer_key"].isna(), "missing_customer_key")
    assignments = holdout_assignments(keyed)
    control = assignments.index[assignments["arm"] == CONTROL]
    flag(pd.Series(frame.index.isin(control), index=frame.index), "holdout_control")

    for name in fields:
        if name == "preferred_send_hour":
            frame[name], bad = _send_hour(desired[name])
            flag(bad, "invalid_preferred_send_hour")
        elif name in JSON_FIELDS:
            frame[name], bad = _products(desired[name], needs_quantity=name == "cart_items")
            flag(bad, f"invalid_{name}")
        elif name == "currency":
            frame[name] = _clean_text(desired[name]).map(lambda v: v.upper() if isinstance(v, str) else v)
        else:
            frame[name] = _clean_text(desired[name])

    candidates = frame.loc[reason.isna(), ["member_key", "customer_key"]].sort_values(
        ["member_key", "customer_key"], kind="stable"
    )
    dupes = candidates.duplicated("member_key", keep="first")
    reason.loc[candidates.index[dupes.to_numpy()]] = "duplicate_email"

    keep = reason.isna()
    eligible = frame.loc[keep].copy()
    eligible["payload_hash"] = payload_hashes(eligible, fields)
    excluded = pd.DataFrame(
        {
            "member_key": frame.loc[~keep, "member_key"],
            "customer_key": frame.loc[~keep, "customer_key"],
            "reason": reason.loc[~keep],
        }
    )
    return PreparedAudience(
        destination=destination,
        list_key=list_key,
        eligible=eligible.reset_index(drop=True),
        excluded=excluded.reset_index(drop=True),
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
