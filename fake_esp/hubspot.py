"""The fake HubSpot CRM v3 (mirrors activation/destinations/hubspot.py): contacts upserted and read
by e-mail (207 with per-row errors), MANUAL lists and their memberships, GDPR delete, and the
opt-out of all e-mail (`POST /communication-preferences/v4/statuses/{email}/unsubscribe-all`,
`channel=EMAIL` required)."""

from __future__ import annotations

import json
from typing import Any

from fake_esp.core import EMAIL, Api, Reply

HUBSPOT_TOKEN = "pat-na1-f0dfc7de-41a5-41db-82f4-3b5eef4ff871"
HUBSPOT_UPSERT_LIMIT = 100
HUBSPOT_LIST_LIMIT = 100_000


class FakeHubSpot:
    """HubSpot's state and handlers, mixed into FakeESP."""

    def _init_hubspot(self, token: str) -> None:
        self.hubspot_token = token
        self.hs_contacts: dict[str, dict[str, Any]] = {}
        self.hs_by_email: dict[str, str] = {}
        self.hs_lists: dict[str, dict[str, Any]] = {}
        self.hs_gdpr_deleted: list[str] = []
        self.hs_opted_out: dict[str, dict[str, Any]] = {}

    def _hubspot_env(self) -> dict[str, str]:
        return {"AW_HUBSPOT_TOKEN": self.hubspot_token, "AW_HUBSPOT_BASE_URL": f"{self.url}/hubspot"}

    def _hubspot_auth(self, headers) -> None:
        if headers.get("Authorization", "") != f"Bearer {self.hubspot_token}":
            raise Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})

    def _hubspot_lists(self) -> dict[str, int]:
        return {item["name"]: len(item["members"]) for item in self.hs_lists.values()}

    def _hubspot_profiles(self) -> int:
        return len(self.hs_contacts)

    def _hubspot_seed(self, email: str, *, list_name: str | None, status: str) -> None:
        record = self._hs_upsert(email, {})
        if list_name:
            self._hs_list_by_name(list_name)["members"].add(record)

    def hubspot_list(self, name: str) -> set[str]:
        with self.lock:
            for item in self.hs_lists.values():
                if item["name"] == name:
                    return {self.hs_contacts[i]["properties"]["email"] for i in item["members"]}
        return set()

    def hubspot_opted_out(self, email: str) -> bool:
        """Whether the address is opted out of all e-mail (HubSpot's "unsubscribed from all")."""
        with self.lock:
            return email.lower() in self.hs_opted_out

    def hubspot_contact(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.hs_by_email.get(email.lower())
            return json.loads(json.dumps(self.hs_contacts[record])) if record else None

    def _hs_list_by_name(self, name: str) -> dict[str, Any]:
        for item in self.hs_lists.values():
            if item["name"] == name:
                return item
        list_id = self._next_id()
        self.hs_lists[list_id] = {
            "listId": list_id,
            "name": name,
            "members": set(),
            "processingType": "MANUAL",
        }
        return self.hs_lists[list_id]

    def _hs_upsert(self, email: str, properties: dict[str, Any]) -> str:
        email = email.lower()
        record = self.hs_by_email.get(email)
        if record is None:
            record = self._next_id()
            self.hs_by_email[email] = record
            self.hs_contacts[record] = {"id": record, "properties": {"email": email}}
        self.hs_contacts[record]["properties"].update({k: v for k, v in properties.items() if k != "email"})
        return record

    def hs_upsert(self, *, body, **_):
        inputs = (body or {}).get("inputs", [])
        if len(inputs) > HUBSPOT_UPSERT_LIMIT:
            raise Reply(
                400, {"status": "error", "category": "VALIDATION_ERROR", "message": "at most 100 inputs"}
            )
        results, errors = [], []
        for item in inputs:
            if item.get("idProperty") != "email":
                raise Reply(400, {"status": "error", "category": "VALIDATION_ERROR", "message": "idProperty"})
            email = str(item.get("id", "")).lower()
            message = self.rejection("hubspot", email)
            if message:
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": message,
                        "context": {"ids": [email]},
                    }
                )
                continue
            new = email not in self.hs_by_email
            record = self._hs_upsert(email, item.get("properties") or {})
            results.append(
                {"id": record, "properties": dict(self.hs_contacts[record]["properties"]), "new": new}
            )
        body_out: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body_out.update(errors=errors, numErrors=len(errors))
            return 207, body_out
        return 200, body_out

    def hs_read(self, *, body, **_):
        results = []
        for item in (body or {}).get("inputs", []):
            record = self.hs_by_email.get(str(item.get("id", "")).lower())
            if record:
                results.append({"id": record, "properties": dict(self.hs_contacts[record]["properties"])})
        return 200, {"status": "COMPLETE", "results": results}

    def hs_list_by_name(self, object_type, name, **_):
        for item in self.hs_lists.values():
            if item["name"] == name:
                return 200, {"list": {"listId": item["listId"], "name": name, "processingType": "MANUAL"}}
        raise Reply(404, {"status": "error", "message": "list not found"})

    def hs_list_create(self, *, body, **_):
        body = body or {}
        if body.get("objectTypeId") != "0-1" or body.get("processingType") not in (
            "MANUAL",
            "SNAPSHOT",
            "DYNAMIC",
        ):
            raise Reply(400, {"status": "error", "message": "objectTypeId and processingType required"})
        if any(item["name"] == body.get("name") for item in self.hs_lists.values()):
            raise Reply(400, {"status": "error", "message": "list name exists"})
        item = self._hs_list_by_name(body["name"])
        item["processingType"] = body["processingType"]
        return 200, {
            "list": {"listId": item["listId"], "name": item["name"], "processingType": body["processingType"]}
        }

    def _hs_membership_ids(self, list_id, body) -> list[str]:
        item = self.hs_lists.get(list_id)
        if item is None:
            raise Reply(404, {"status": "error", "message": "list not found"})
        if item["processingType"] != "MANUAL":
            raise Reply(400, {"status": "error", "message": "only MANUAL lists"})
        ids = [str(i) for i in (body or [])]
        if len(ids) > HUBSPOT_LIST_LIMIT:
            raise Reply(400, {"status": "error", "message": "too many records"})
        return ids

    def hs_list_add(self, list_id, *, body, **_):
        ids = self._hs_membership_ids(list_id, body)
        members = self.hs_lists[list_id]["members"]
        added = [i for i in ids if i in self.hs_contacts and i not in members]
        members.update(added)
        missing = [i for i in ids if i not in self.hs_contacts]
        return 200, {"recordsIdsAdded": added, "recordIdsRemoved": [], "recordIdsMissing": missing}

    def hs_list_remove(self, list_id, *, body, **_):
        ids = self._hs_membership_ids(list_id, body)
        members = self.hs_lists[list_id]["members"]
        removed = [i for i in ids if i in members]
        members.difference_update(removed)
        missing = [i for i in ids if i not in self.hs_contacts]
        return 200, {"recordsIdsAdded": [], "recordIdsRemoved": removed, "recordIdsMissing": missing}

    def hs_unsubscribe_all(self, subscriber, *, query, **_):
        """Opt an address out of all e-mail. Like the real endpoint it takes any address; the
        client is expected to send only contacts it knows."""
        if query.get("channel", [""])[0] != "EMAIL":
            raise Reply(
                400,
                {"status": "error", "category": "VALIDATION_ERROR", "message": "channel=EMAIL is required"},
            )
        email = subscriber.lower()
        if not EMAIL.match(email):
            raise Reply(400, {"status": "error", "category": "VALIDATION_ERROR", "message": "invalid email"})
        self.hs_opted_out.setdefault(email, {"channel": "EMAIL", "status": "UNSUBSCRIBED"})
        return 200, {"status": "COMPLETE", "results": [], "startedAt": "", "completedAt": ""}

    def hs_gdpr_delete(self, *, body, **_):
        body = body or {}
        if body.get("idProperty") == "email":
            record = self.hs_by_email.pop(str(body.get("objectId", "")).lower(), None)
        else:
            record = str(body.get("objectId"))
        self.hs_gdpr_deleted.append(str(body.get("objectId", "")).lower())
        if not record or record not in self.hs_contacts:
            raise Reply(404, {"status": "error", "message": "contact not found"})
        email = self.hs_contacts.pop(record)["properties"]["email"]
        self.hs_by_email.pop(email, None)
        for item in self.hs_lists.values():
            item["members"].discard(record)
        return 204, None


ROUTES = [
    ("POST", r"/crm/v3/objects/contacts/batch/upsert", "hs_upsert"),
    ("POST", r"/crm/v3/objects/contacts/batch/read", "hs_read"),
    ("GET", r"/crm/v3/lists/object-type-id/([^/]+)/name/(.+)", "hs_list_by_name"),
    ("POST", r"/crm/v3/lists", "hs_list_create"),
    ("PUT", r"/crm/v3/lists/([^/]+)/memberships/add", "hs_list_add"),
    ("PUT", r"/crm/v3/lists/([^/]+)/memberships/remove", "hs_list_remove"),
    ("POST", r"/crm/v3/objects/contacts/gdpr-delete", "hs_gdpr_delete"),
    ("POST", r"/communication-preferences/v4/statuses/([^/]+)/unsubscribe-all", "hs_unsubscribe_all"),
]

API = Api.of(FakeHubSpot, "hubspot", ROUTES, members=FakeHubSpot.hubspot_list)
