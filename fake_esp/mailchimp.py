"""The fake Mailchimp Marketing API v3 (mirrors activation/destinations/mailchimp.py): members of
one audience with a status each, static segments, the batch subscribe, segment membership, member
PATCH for suppression (404 for an unknown member, 400 for an invalid status or a change to a
cleaned address) and permanent delete. Like the real API, sending `status` for an existing member
changes it and an empty string overwrites a field."""

from __future__ import annotations

import base64
import json
from typing import Any

from fake_esp.core import Api, Reply, md5

# Random rather than made of words: redaction masks any 8-character piece of a key, and a key
# spelling "mailchimp" would mask that word in every message.
MAILCHIMP_KEY = "64bc084783c00d6c972f23947cb75e69-us1"
MAILCHIMP_LIMIT = 500
MAILCHIMP_MEMBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")


class FakeMailchimp:
    """Mailchimp's state and handlers, mixed into FakeESP."""

    def _init_mailchimp(self, key: str, audience_id: str) -> None:
        self.mailchimp_key = key
        self.audience_id = audience_id
        self.mc_members: dict[str, dict[str, Any]] = {}
        self.mc_segments: dict[str, dict[str, Any]] = {}

    def _mailchimp_env(self) -> dict[str, str]:
        return {
            "AW_MAILCHIMP_API_KEY": self.mailchimp_key,
            "AW_MAILCHIMP_AUDIENCE_ID": self.audience_id,
            "AW_MAILCHIMP_BASE_URL": f"{self.url}/mailchimp/3.0",
        }

    def _mailchimp_auth(self, headers) -> None:
        expected = "Basic " + base64.b64encode(f"anystring:{self.mailchimp_key}".encode()).decode()
        if headers.get("Authorization", "") != expected:
            raise Reply(401, {"title": "API Key Invalid", "status": 401})

    def _mailchimp_lists(self) -> dict[str, int]:
        return {s["name"]: len(s["members"]) for s in self.mc_segments.values()}

    def _mailchimp_profiles(self) -> int:
        return len(self.mc_members)

    def _mailchimp_seed(self, email: str, *, list_name: str | None, status: str) -> None:
        self.mc_members[md5(email)] = {"email_address": email, "status": status, "merge_fields": {}}
        if list_name:
            self._mc_segment_by_name(list_name)["members"].add(email)

    def mailchimp_segment(self, name: str) -> set[str]:
        with self.lock:
            for segment in self.mc_segments.values():
                if segment["name"] == name:
                    return set(segment["members"])
        return set()

    def mailchimp_member(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            member = self.mc_members.get(md5(email))
            return json.loads(json.dumps(member)) if member else None

    def _mc_segment_by_name(self, name: str) -> dict[str, Any]:
        for segment in self.mc_segments.values():
            if segment["name"] == name:
                return segment
        segment_id = self._next_id()
        self.mc_segments[segment_id] = {"id": int(segment_id), "name": name, "members": set()}
        return self.mc_segments[segment_id]

    def _mc_audience(self, audience: str) -> None:
        if audience != self.audience_id:
            raise Reply(404, {"title": "Resource Not Found", "detail": f"list {audience} not found"})

    def mc_batch(self, audience, *, body, **_):
        self._mc_audience(audience)
        members = (body or {}).get("members", [])
        if len(members) > MAILCHIMP_LIMIT:
            raise Reply(400, {"title": "Invalid Resource", "detail": "at most 500 members per call"})
        update = bool((body or {}).get("update_existing"))
        created, updated, errors = [], [], []
        for member in members:
            email = str(member.get("email_address", "")).lower()
            message = self.rejection("mailchimp", email)
            if message:
                errors.append({"email_address": email, "error": message, "error_code": "ERROR_GENERIC"})
                continue
            key = md5(email)
            current = self.mc_members.get(key)
            if current is None:
                status = member.get("status") or member.get("status_if_new")
                if not status:
                    errors.append({"email_address": email, "error": "status required", "error_code": "ERROR"})
                    continue
                current = {"email_address": email, "status": status, "merge_fields": {}}
                self.mc_members[key] = current
                created.append({"id": key, "email_address": email, "status": status})
            elif not update:
                errors.append(
                    {"email_address": email, "error": "exists", "error_code": "ERROR_CONTACT_EXISTS"}
                )
                continue
            else:
                if member.get("status"):
                    current["status"] = member["status"]
                updated.append({"id": key, "email_address": email, "status": current["status"]})
            current["merge_fields"].update(member.get("merge_fields") or {})
        return 200, {
            "new_members": created,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(created),
            "total_updated": len(updated),
            "error_count": len(errors),
        }

    def mc_segments_list(self, audience, *, query, **_):
        self._mc_audience(audience)
        offset = int(query.get("offset", ["0"])[0])
        count = int(query.get("count", ["10"])[0])
        segments = [
            {"id": s["id"], "name": s["name"], "type": "static", "member_count": len(s["members"])}
            for s in self.mc_segments.values()
        ]
        return 200, {"segments": segments[offset : offset + count], "total_items": len(segments)}

    def mc_segment_create(self, audience, *, body, **_):
        self._mc_audience(audience)
        name = (body or {}).get("name")
        if not name:
            raise Reply(400, {"detail": "name required"})
        if any(s["name"] == name for s in self.mc_segments.values()):
            raise Reply(400, {"detail": "segment name already exists"})
        segment = self._mc_segment_by_name(name)
        return 200, {"id": segment["id"], "name": name, "type": "static", "member_count": 0}

    def mc_segment_batch(self, audience, segment_id, *, body, **_):
        self._mc_audience(audience)
        segment = self.mc_segments.get(segment_id)
        if segment is None:
            raise Reply(404, {"detail": "segment not found"})
        to_add = [str(e).lower() for e in (body or {}).get("members_to_add", [])]
        to_remove = [str(e).lower() for e in (body or {}).get("members_to_remove", [])]
        if len(to_add) > MAILCHIMP_LIMIT or len(to_remove) > MAILCHIMP_LIMIT:
            raise Reply(400, {"detail": "at most 500 members to add and 500 to remove"})
        added, removed, errors = [], [], []
        for email in to_add:
            if md5(email) not in self.mc_members:
                continue
            if email not in segment["members"]:
                segment["members"].add(email)
                added.append({"id": md5(email), "email_address": email})
        for email in to_remove:
            if email in segment["members"]:
                segment["members"].discard(email)
                removed.append({"id": md5(email), "email_address": email})
        return 200, {
            "members_added": added,
            "members_removed": removed,
            "errors": errors,
            "total_added": len(added),
            "total_removed": len(removed),
            "error_count": len(errors),
        }

    def _mc_member_resource(self, key: str) -> dict[str, Any]:
        member = self.mc_members[key]
        return {
            "id": key,
            "email_address": member["email_address"],
            "status": member["status"],
            "merge_fields": dict(member["merge_fields"]),
        }

    def mc_member_get(self, audience, member_hash, **_):
        self._mc_audience(audience)
        if member_hash not in self.mc_members:
            raise Reply(404, {"title": "Resource Not Found", "status": 404})
        return 200, self._mc_member_resource(member_hash)

    def mc_member_patch(self, audience, member_hash, *, body, **_):
        """Update one member; never creates one (that is PUT)."""
        self._mc_audience(audience)
        if not isinstance(body, dict):
            raise Reply(400, {"title": "Invalid Resource", "detail": "a JSON object is required"})
        member = self.mc_members.get(member_hash)
        if member is None:
            raise Reply(404, {"title": "Resource Not Found", "status": 404})
        status = body.get("status")
        if status is not None:
            if status not in MAILCHIMP_MEMBER_STATUSES:
                raise Reply(400, {"title": "Invalid Resource", "detail": f"invalid status {status!r}"})
            if member["status"] == "cleaned" and status != "cleaned":
                raise Reply(
                    400, {"title": "Invalid Resource", "detail": "a cleaned address cannot change status"}
                )
            member["status"] = status
        member["merge_fields"].update(body.get("merge_fields") or {})
        return 200, self._mc_member_resource(member_hash)

    def mc_delete_permanent(self, audience, member_hash, **_):
        self._mc_audience(audience)
        member = self.mc_members.pop(member_hash, None)
        if member is None:
            raise Reply(404, {"title": "Resource Not Found"})
        for segment in self.mc_segments.values():
            segment["members"].discard(member["email_address"])
        return 204, None


ROUTES = [
    ("POST", r"/3\.0/lists/([^/]+)", "mc_batch"),
    ("GET", r"/3\.0/lists/([^/]+)/segments", "mc_segments_list"),
    ("POST", r"/3\.0/lists/([^/]+)/segments", "mc_segment_create"),
    ("POST", r"/3\.0/lists/([^/]+)/segments/(\d+)", "mc_segment_batch"),
    ("POST", r"/3\.0/lists/([^/]+)/members/([0-9a-f]{32})/actions/delete-permanent", "mc_delete_permanent"),
    ("GET", r"/3\.0/lists/([^/]+)/members/([0-9a-f]{32})", "mc_member_get"),
    ("PATCH", r"/3\.0/lists/([^/]+)/members/([0-9a-f]{32})", "mc_member_patch"),
]

API = Api.of(FakeMailchimp, "mailchimp", ROUTES, members=FakeMailchimp.mailchimp_segment)
