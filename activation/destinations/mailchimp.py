"""Mailchimp Marketing API v3.

Our lists are static segments of the one configured audience. Members are upserted with the batch
endpoint `POST /lists/{audience}` (at most 500, `update_existing`), carrying `status_if_new` only:
an existing member's status is never sent, so nobody Mailchimp has unsubscribed or cleaned is
subscribed again. Segment membership goes through `POST /lists/{audience}/segments/{id}`
(`members_to_add` / `members_to_remove`, at most 500 each). Member ids are the MD5 of the
lower-cased e-mail. Erasure is the `delete-permanent` action.

A member who must not be mailed is taken out of our segment and also set to `unsubscribed` in the
audience itself (`PATCH /lists/{audience}/members/{hash}`), since a campaign sent to the whole
audience ignores segments. PATCH, unlike PUT or the batch endpoint, never creates a member: a 404
means Mailchimp does not hold the address and there is nothing to suppress."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from activation.config import MAILCHIMP_MAX_CONNECTIONS, MailchimpConfig, mailchimp_basic_auth
from activation.destinations.base import (
    FAILED,
    REJECTED,
    SENT,
    ListHandle,
    Member,
    Outcome,
    StateMember,
    chunks,
)
from activation.destinations.esp import EspDestination, all_failed
from activation.errors import ConfigError, ESPRequestError

MAX_BATCH = 500
MERGE_TAGS = {
    "first_name": "FNAME",
    "last_name": "LNAME",
    "rfm_segment": "RFM_SEG",
    "cluster_name": "CLUSTER",
    "loyalty_tier": "LOYALTY",
    "offer": "OFFER",
    "preferred_send_hour": "SEND_HOUR",
    "currency": "CURRENCY",
}
# A product list becomes flat merge fields (tags at most 10 characters): the ids, then the first
# three products' details, e.g. REC1_NAME or CART2_QTY.
PRODUCT_SLOTS = {
    "recommended_products": ("REC", {"name": "NAME", "image_url": "IMG", "price": "PRICE"}),
    "cart_items": ("CART", {"name": "NAME", "image_url": "IMG", "price": "PRC", "quantity": "QTY"}),
}
RECOMMENDATION_SLOTS = 3
MAX_TEXT = 255
UNSUBSCRIBED_STATUSES = {"unsubscribed", "cleaned", "archived"}


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id: MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def merge_tag(field: str) -> str:
    """The merge tag of a field: a fixed one for the contract fields, else the upper-cased name
    cut to Mailchimp's 10 characters."""
    if field in MERGE_TAGS:
        return MERGE_TAGS[field]
    return re.sub(r"[^A-Z0-9_]", "", field.upper())[:10]


def merge_fields(fields: dict[str, Any]) -> dict[str, str]:
    """Non-null fields as Mailchimp merge fields; recommendations as REC_IDS plus name, image and
    price of the first three products, cart lines likewise (CART_IDS, CART1_NAME ... CART3_QTY)."""
    out: dict[str, str] = {}
    for name, value in fields.items():
        if name in PRODUCT_SLOTS:
            prefix, suffixes = PRODUCT_SLOTS[name]
            out[f"{prefix}_IDS"] = ",".join(str(p["product_id"]) for p in value)
            for slot, product in enumerate(value[:RECOMMENDATION_SLOTS], start=1):
                for key, suffix in suffixes.items():
                    if product.get(key) not in (None, ""):
                        out[f"{prefix}{slot}_{suffix}"] = str(product[key])
        else:
            out[merge_tag(name)] = str(value)
    return out


class MailchimpDestination(EspDestination):
    name = "mailchimp"

    def __init__(self, config: MailchimpConfig):
        if not config.audience_id:
            raise ConfigError("Mailchimp needs AW_MAILCHIMP_AUDIENCE_ID")
        key = config.api_key.reveal()
        super().__init__(config, auth=("anystring", key), secrets=(key, mailchimp_basic_auth(key)))
        self.batch_size = min(config.batch_size, MAX_BATCH)
        self.suppress_batch_size = min(config.segment_batch_size, MAX_BATCH)
        self.max_concurrency = min(config.http.max_concurrency, MAILCHIMP_MAX_CONNECTIONS)
        self._audience = config.audience_id

    def describe(self) -> str:
        return f"audience={self._audience!r}"

    def ensure_list(self, list_key: str, known_id: str | None) -> ListHandle:
        if known_id:
            return ListHandle(list_key, known_id)
        offset = 0
        while True:
            page = self.api.request(
                "GET",
                f"/lists/{self._audience}/segments",
                params={"type": "static", "count": 1000, "offset": offset},
            ).body
            for segment in page.get("segments", []):
                if segment.get("name") == list_key:
                    return ListHandle(list_key, str(segment["id"]))
            offset += 1000
            if offset >= int(page.get("total_items", 0)):
                break
        created = self.api.request(
            "POST", f"/lists/{self._audience}/segments", json={"name": list_key, "static_segment": []}
        ).body
        return ListHandle(list_key, str(created["id"]), created_now=True)

    def push(self, handle: ListHandle, creates: list[Member], updates: list[Member]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        body_members = []
        for member in [*creates, *updates]:
            fields = merge_fields(member.fields)
            too_long = sorted(tag for tag, value in fields.items() if len(value) > MAX_TEXT)
            if too_long:
                outcomes[member.member_key] = Outcome(
                    REJECTED, f"merge field {too_long[0]} longer than {MAX_TEXT} characters"
                )
                continue
            entry: dict[str, Any] = {"email_address": member.member_key, "status_if_new": "subscribed"}
            if fields:
                entry["merge_fields"] = fields
            body_members.append(entry)
        if not body_members:
            return outcomes
        response = self.api.request(
            "POST", f"/lists/{self._audience}", json={"members": body_members, "update_existing": True}
        )
        body = response.body or {}
        errors = {
            str(e.get("email_address", "")).lower(): self.redact(
                f"{e.get('error_code') or 'error'}: {e.get('error')}"
            )
            for e in body.get("errors", [])
        }
        statuses = {
            str(m.get("email_address", "")).lower(): m.get("status")
            for m in [*body.get("new_members", []), *body.get("updated_members", [])]
        }
        to_add: list[Member] = []
        for member in creates:
            if member.member_key in outcomes:
                continue
            key = member.member_key
            if key in errors:
                outcomes[key] = Outcome(REJECTED, f"mailchimp rejected: {errors[key]}")
            elif statuses.get(key) in UNSUBSCRIBED_STATUSES:
                outcomes[key] = Outcome(REJECTED, f"esp_status_{statuses[key]}")
            elif key not in statuses:
                outcomes[key] = Outcome(FAILED, "mailchimp did not acknowledge the member")
            else:
                to_add.append(member)
        for member in updates:
            key = member.member_key
            if key in outcomes:
                continue
            if key in errors:
                outcomes[key] = Outcome(REJECTED, f"mailchimp rejected: {errors[key]}")
            elif key not in statuses:
                outcomes[key] = Outcome(FAILED, "mailchimp did not acknowledge the member")
            else:
                outcomes[key] = Outcome(SENT, esp_record_id=subscriber_hash(key))
        for group in chunks(to_add, self.config.segment_batch_size):
            outcomes.update(self._add_to_segment(handle, group))
        return outcomes

    def _add_to_segment(self, handle: ListHandle, group: list[Member]) -> dict[str, Outcome]:
        try:
            response = self.api.request(
                "POST",
                f"/lists/{self._audience}/segments/{handle.esp_list_id}",
                json={"members_to_add": [m.member_key for m in group], "members_to_remove": []},
            )
        except ESPRequestError as error:
            return all_failed([m.member_key for m in group], f"segment add failed: {error}")
        body = response.body or {}
        added = {str(m.get("email_address", "")).lower() for m in body.get("members_added", [])}
        errors = self._segment_errors(body)
        outcomes = {}
        for member in group:
            key = member.member_key
            if key in errors:
                outcomes[key] = Outcome(REJECTED, f"mailchimp segment rejected: {errors[key]}")
                continue
            ours = key in added or member.was_pending or response.maybe_applied_twice
            outcomes[key] = Outcome(SENT, esp_record_id=subscriber_hash(key), created_by_us=ours)
        return outcomes

    def _segment_errors(self, body: dict[str, Any]) -> dict[str, str]:
        """The redacted error of each address a segment change refused, by lower-cased e-mail."""
        errors: dict[str, str] = {}
        for error in body.get("errors", []):
            for email in error.get("email_addresses", []):
                errors[str(email).lower()] = self.redact(str(error.get("error")))
        return errors

    def remove(self, handle: ListHandle, members: list[StateMember]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        for group in chunks(members, self.config.segment_batch_size):
            try:
                response = self.api.request(
                    "POST",
                    f"/lists/{self._audience}/segments/{handle.esp_list_id}",
                    json={"members_to_add": [], "members_to_remove": [m.member_key for m in group]},
                )
            except ESPRequestError as error:
                outcomes.update(all_failed([m.member_key for m in group], f"segment remove failed: {error}"))
                continue
            errors = self._segment_errors(response.body or {})
            for member in group:
                if member.member_key in errors:
                    outcomes[member.member_key] = Outcome(FAILED, f"mailchimp: {errors[member.member_key]}")
                else:
                    outcomes[member.member_key] = Outcome(SENT)
        return outcomes

    def suppress(self, members: list[StateMember]) -> dict[str, Outcome]:
        """One PATCH per member (Mailchimp has no batch status change that cannot create), up to
        the connection cap in parallel."""
        return self.in_parallel(self._unsubscribe, [m.member_key for m in members])

    def _unsubscribe(self, key: str) -> tuple[str, Outcome]:
        path = f"/lists/{self._audience}/members/{subscriber_hash(key)}"
        try:
            patched = self.api.request("PATCH", path, json={"status": "unsubscribed"}, ok_statuses=(400, 404))
            if patched.status_code < 300:
                return key, Outcome(SENT, esp_record_id=subscriber_hash(key))
            # Mailchimp refuses some status changes (a cleaned address keeps its status); what
            # matters is whether the member can still be mailed
            current = patched
            if patched.status_code == 400:
                current = self.api.request("GET", path, params={"fields": "status"}, ok_statuses=(404,))
        except ESPRequestError as error:
            return key, Outcome(FAILED, f"unsubscribe failed: {error}")
        if current.status_code == 404:
            return key, Outcome(SENT, "not in the mailchimp audience")
        status = current.body.get("status") if isinstance(current.body, dict) else None
        if status in UNSUBSCRIBED_STATUSES:
            return key, Outcome(SENT, f"already {status} in mailchimp", esp_record_id=subscriber_hash(key))
        return key, Outcome(REJECTED, f"mailchimp refused the unsubscribe; the member is {status}")

    def erase(self, email: str, customer_key: str | None) -> Outcome:
        return self.erase_with(
            "POST", f"/lists/{self._audience}/members/{subscriber_hash(email)}/actions/delete-permanent"
        )
