"""HubSpot CRM v3.

Contacts are upserted by e-mail with `POST /crm/v3/objects/contacts/batch/upsert` (at most 100,
`idProperty=email`), which answers with record ids (207 with per-row errors on partial failure).
Our lists are MANUAL lists (`POST /crm/v3/lists`, found by name through
`/crm/v3/lists/object-type-id/0-1/name/{name}`); membership changes use
`PUT /crm/v3/lists/{listId}/memberships/add|remove` with record ids. Erasure is the GDPR delete.

A contact who must not be mailed is also opted out of all marketing e-mail with the subscription
preferences v4 API, `POST /communication-preferences/v4/statuses/{email}/unsubscribe-all?channel=EMAIL`:
one call covers every e-mail subscription type, where v3 `POST /communication-preferences/v3/
unsubscribe` takes one subscription type per call, and the batch `unsubscribe-all` needs scopes
that only Marketing Hub Enterprise portals can grant. The token needs the
`communication_preferences.write` scope. Only addresses HubSpot holds as contacts are sent.

Custom fields are written to `aw_`-prefixed contact properties, which must exist in the portal."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from activation.audience import JSON_FIELDS
from activation.config import HubSpotConfig
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
from activation.errors import ESPRequestError

MAX_UPSERT = 100
CONTACTS = "0-1"
STANDARD = {"first_name": "firstname", "last_name": "lastname"}


def property_name(field: str) -> str:
    if field in STANDARD:
        return STANDARD[field]
    return "aw_" + re.sub(r"[^a-z0-9_]", "_", field.lower())


def contact_properties(member: Member) -> dict[str, str]:
    """Non-null fields as HubSpot property strings (recommendations and cart lines as JSON text)."""
    props = {"email": member.member_key}
    for name, value in member.fields.items():
        if name in JSON_FIELDS:
            props[property_name(name)] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            props[property_name(name)] = str(value)
    return props


class HubSpotDestination(EspDestination):
    name = "hubspot"

    def __init__(self, config: HubSpotConfig):
        token = config.token.reveal()
        super().__init__(config, headers={"Authorization": f"Bearer {token}"}, secrets=(token,))
        self.upsert_size = min(config.upsert_batch_size, MAX_UPSERT)
        # one engine batch = several 100-contact upserts and one list add, so list calls stay few
        self.batch_size = max(self.upsert_size, config.list_batch_size)
        self.suppress_batch_size = self.upsert_size

    def ensure_list(self, list_key: str, known_id: str | None) -> ListHandle:
        if known_id:
            return ListHandle(list_key, known_id)
        found = self.api.request(
            "GET",
            f"/crm/v3/lists/object-type-id/{CONTACTS}/name/{quote(list_key, safe='')}",
            ok_statuses=(404,),
        )
        if found.status_code != 404 and found.body and found.body.get("list"):
            return ListHandle(list_key, str(found.body["list"]["listId"]))
        created = self.api.request(
            "POST",
            "/crm/v3/lists",
            json={"name": list_key, "objectTypeId": CONTACTS, "processingType": "MANUAL"},
        ).body
        return ListHandle(list_key, str(created["list"]["listId"]), created_now=True)

    def push(self, handle: ListHandle, creates: list[Member], updates: list[Member]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        ids: dict[str, str] = {}
        for group in chunks([*creates, *updates], self.upsert_size):
            try:
                upserted, rejected = self._upsert(group)
            except ESPRequestError as error:
                outcomes.update(all_failed([m.member_key for m in group], f"upsert failed: {error}"))
                continue
            ids.update(upserted)
            outcomes.update(rejected)
        for member in updates:
            if member.member_key in ids:
                outcomes[member.member_key] = Outcome(SENT, esp_record_id=ids[member.member_key])
        to_add = [m for m in creates if m.member_key in ids]
        for group in chunks(to_add, self.config.list_batch_size):
            outcomes.update(self._add(handle, group, ids))
        for member in [*creates, *updates]:
            outcomes.setdefault(
                member.member_key, Outcome(FAILED, "hubspot returned no record for the contact")
            )
        return outcomes

    def _upsert(self, group: list[Member]) -> tuple[dict[str, str], dict[str, Outcome]]:
        inputs = [
            {"idProperty": "email", "id": m.member_key, "properties": contact_properties(m)} for m in group
        ]
        response = self.api.request("POST", "/crm/v3/objects/contacts/batch/upsert", json={"inputs": inputs})
        body = response.body or {}
        ids = _ids_by_email(body)
        keys = {m.member_key for m in group}
        rejected: dict[str, Outcome] = {}
        for error in body.get("errors", []):
            message = self.redact(f"{error.get('category', 'error')}: {error.get('message', '')}")
            named = {str(v).lower() for v in _context_values(error.get("context")) if str(v).lower() in keys}
            for key in named or (keys - set(ids)):
                if key not in ids:
                    rejected[key] = Outcome(REJECTED, f"hubspot rejected: {message}")
        return ids, rejected

    def _add(self, handle: ListHandle, group: list[Member], ids: dict[str, str]) -> dict[str, Outcome]:
        try:
            response = self.api.request(
                "PUT",
                f"/crm/v3/lists/{handle.esp_list_id}/memberships/add",
                json=[ids[m.member_key] for m in group],
            )
        except ESPRequestError as error:
            return all_failed([m.member_key for m in group], f"list add failed: {error}")
        body = response.body or {}
        added = {str(i) for i in body.get("recordsIdsAdded", body.get("recordIdsAdded", []))}
        missing = {str(i) for i in body.get("recordIdsMissing", [])}
        outcomes = {}
        for member in group:
            record = ids[member.member_key]
            if record in missing:
                outcomes[member.member_key] = Outcome(FAILED, "hubspot reported the record missing")
                continue
            ours = record in added or member.was_pending or response.maybe_applied_twice
            outcomes[member.member_key] = Outcome(SENT, esp_record_id=record, created_by_us=ours)
        return outcomes

    def _contact_ids(self, emails: list[str]) -> dict[str, str]:
        """Record ids of the contacts HubSpot holds for these e-mails."""
        resolved: dict[str, str] = {}
        for group in chunks(emails, self.upsert_size):
            body = self.api.request(
                "POST",
                "/crm/v3/objects/contacts/batch/read",
                json={"idProperty": "email", "properties": ["email"], "inputs": [{"id": e} for e in group]},
            ).body
            resolved.update(_ids_by_email(body or {}))
        return resolved

    def remove(self, handle: ListHandle, members: list[StateMember]) -> dict[str, Outcome]:
        pairs, outcomes = self.records(
            members, self._contact_ids, what="contact", absent="no hubspot contact"
        )

        def remove_records(group: list[tuple[str, str]]) -> None:
            self.api.request(
                "PUT",
                f"/crm/v3/lists/{handle.esp_list_id}/memberships/remove",
                json=[record for _, record in group],
            )

        outcomes.update(
            self.send_groups(pairs, self.config.list_batch_size, remove_records, "list remove failed")
        )
        return outcomes

    def suppress(self, members: list[StateMember]) -> dict[str, Outcome]:
        pairs, outcomes = self.records(
            members, self._contact_ids, what="contact", absent="no hubspot contact", known_ids=False
        )
        outcomes.update(self.in_parallel(lambda pair: self._opt_out(*pair), pairs))
        return outcomes

    def _opt_out(self, email: str, record: str) -> tuple[str, Outcome]:
        try:
            self.api.request(
                "POST",
                f"/communication-preferences/v4/statuses/{quote(email, safe='@')}/unsubscribe-all",
                params={"channel": "EMAIL"},
            )
        except ESPRequestError as error:
            return email, Outcome(FAILED, f"opt-out failed: {error}")
        return email, Outcome(SENT, esp_record_id=record)

    def erase(self, email: str, customer_key: str | None) -> Outcome:
        return self.erase_with(
            "POST", "/crm/v3/objects/contacts/gdpr-delete", json={"objectId": email, "idProperty": "email"}
        )


def _ids_by_email(body: dict[str, Any]) -> dict[str, str]:
    """Record id by lower-cased e-mail of the contacts a batch call answered with."""
    ids: dict[str, str] = {}
    for result in body.get("results", []):
        email = str((result.get("properties") or {}).get("email", "")).lower()
        if email:
            ids[email] = str(result["id"])
    return ids


def _context_values(context: Any) -> list[Any]:
    if isinstance(context, dict):
        values = []
        for value in context.values():
            values.extend(value if isinstance(value, list) else [value])
        return values
    return []
