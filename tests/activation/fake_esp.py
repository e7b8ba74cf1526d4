"""A fake Mailchimp + Klaviyo + HubSpot on 127.0.0.1, for tests and for pointing the whole pipeline
at something local.

It implements the subset of each API the activation clients call, keeps list, member and profile
state so tests can assert the final membership, checks auth headers, enforces the batch limits,
counts requests, and injects faults on demand: a status (429 with Retry-After, 500), a slow
response beyond the client timeout, a dropped connection after the request was applied, a hang
(for killing a process mid-sync), and rows rejected inside an otherwise good batch.

It also behaves like the real APIs where they are dangerous: sending `status` for an existing
Mailchimp member changes it, an empty string overwrites a field, the Klaviyo subscribe endpoint
"works" (tests assert it is never called), and suppressing an address Klaviyo does not know
creates a suppressed profile for it, as the real API documents (tests assert we never do).

Suppression at the ESP: Mailchimp member status (`PATCH /lists/{id}/members/{hash}`, 404 for an
unknown member, 400 for an invalid status or a change to a cleaned address), Klaviyo suppression
jobs (`POST /api/profile-suppression-bulk-create-jobs`, at most 100 e-mails) and HubSpot's
opt-out of all e-mail (`POST /communication-preferences/v4/statuses/{email}/unsubscribe-all`,
`channel=EMAIL` required).

Standalone: python -m tests.activation.fake_esp --port 8765 (prints the env vars to export)."""

from __future__ import annotations

import argparse
import base64
import hashlib
import itertools
import json
import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlparse

EMAIL = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$")
MAILCHIMP_LIMIT = 500
KLAVIYO_IMPORT_LIMIT = 10_000
KLAVIYO_IMPORT_BYTES = 5_000_000
KLAVIYO_LIST_LIMIT = 1_000
HUBSPOT_UPSERT_LIMIT = 100
HUBSPOT_LIST_LIMIT = 100_000
SUBSCRIBE_PATHS = ("profile-subscription-bulk-create-jobs",)
# Credentials in the formats the real ESPs issue (activation.config validates them), random rather
# than made of words: redaction masks any 8-character piece of a key, and a key spelling
# "mailchimp" would mask that word in every message.
MAILCHIMP_KEY = "64bc084783c00d6c972f23947cb75e69-us1"
KLAVIYO_KEY = "pk_c85156cefd2dc70b3867119fd1e53c217e"
HUBSPOT_TOKEN = "pat-na1-f0dfc7de-41a5-41db-82f4-3b5eef4ff871"
MAILCHIMP_MEMBER_STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")


def md5(email: str) -> str:
    return hashlib.md5(email.lower().encode()).hexdigest()


class Reply(Exception):
    """Raised inside a handler to answer with a status and body."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Fault:
    kind: str
    esp: str | None = None
    method: str | None = None
    path: str | None = None
    times: int = 1
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    after: int = 0
    apply: bool = False
    echo_auth: bool = False
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hit: threading.Event = field(default_factory=threading.Event)

    def matches(self, esp: str, method: str, path: str) -> bool:
        return (
            (self.esp is None or self.esp == esp)
            and (self.method is None or self.method == method)
            and (self.path is None or re.search(self.path, path) is not None)
        )


@dataclass
class LoggedRequest:
    esp: str
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    body: Any


class FakeESP:
    """The server plus its in-memory ESP state. Use as a context manager or call start()/stop()."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        mailchimp_key: str = MAILCHIMP_KEY,
        audience_id: str = "aud0001",
        klaviyo_key: str = KLAVIYO_KEY,
        hubspot_token: str = HUBSPOT_TOKEN,
        klaviyo_polls_to_complete: int = 1,
        log_bodies: bool = True,
    ):
        self.host = host
        self.port = port
        self.mailchimp_key = mailchimp_key
        self.audience_id = audience_id
        self.klaviyo_key = klaviyo_key
        self.hubspot_token = hubspot_token
        self.klaviyo_polls_to_complete = klaviyo_polls_to_complete
        self.log_bodies = log_bodies
        self.lock = threading.RLock()
        self.release = threading.Event()
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.rejections: dict[str, dict[str, str]] = {"mailchimp": {}, "klaviyo": {}, "hubspot": {}}
        self._ids = itertools.count(1001)
        self.mc_members: dict[str, dict[str, Any]] = {}
        self.mc_segments: dict[str, dict[str, Any]] = {}
        self.kl_profiles: dict[str, dict[str, Any]] = {}
        self.kl_lists: dict[str, dict[str, Any]] = {}
        self.kl_jobs: dict[str, dict[str, Any]] = {}
        self.kl_deletions: list[str] = []
        self.kl_suppression_jobs: list[dict[str, Any]] = []
        self.hs_contacts: dict[str, dict[str, Any]] = {}
        self.hs_by_email: dict[str, str] = {}
        self.hs_lists: dict[str, dict[str, Any]] = {}
        self.hs_gdpr_deleted: list[str] = []
        self.hs_opted_out: dict[str, dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------------

    def start(self) -> FakeESP:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self._server.request_queue_size = 256
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-esp", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeESP:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment variables that point the activation package here."""
        return {
            "AW_MAILCHIMP_API_KEY": self.mailchimp_key,
            "AW_MAILCHIMP_AUDIENCE_ID": self.audience_id,
            "AW_MAILCHIMP_BASE_URL": f"{self.url}/mailchimp/3.0",
            "AW_KLAVIYO_API_KEY": self.klaviyo_key,
            "AW_KLAVIYO_BASE_URL": f"{self.url}/klaviyo",
            "AW_HUBSPOT_TOKEN": self.hubspot_token,
            "AW_HUBSPOT_BASE_URL": f"{self.url}/hubspot",
        }

    # test controls ---------------------------------------------------------------------------------

    def inject(self, kind: str, **kwargs) -> Fault:
        """Add a fault: kind is status, slow, drop or hang; filter with esp, method, path (regex);
        `times` how often, `after` how many matching requests to let through first. `apply` makes
        a hang act on the request first (the ESP did the work, the client never hears back);
        `echo_auth` puts the caller's Authorization header in the error body; `body` and `headers`
        replace a status fault's body and add response headers."""
        fault = Fault(kind=kind, **kwargs)
        with self.lock:
            self.faults.append(fault)
        return fault

    def reject(self, esp: str, emails, message: str = "Invalid resource") -> None:
        """Make the ESP refuse these rows inside otherwise accepted batches, until cleared."""
        with self.lock:
            for email in emails:
                self.rejections[esp][email.lower()] = message

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()
            for table in self.rejections.values():
                table.clear()

    def requests(self, esp: str | None = None, method: str | None = None, path: str | None = None):
        with self.lock:
            return [
                r
                for r in self.log
                if (esp is None or r.esp == esp)
                and (method is None or r.method == method)
                and (path is None or re.search(path, r.path))
            ]

    def request_count(self, esp: str | None = None) -> int:
        with self.lock:
            return sum(n for (e, _, _), n in self.counts.items() if esp is None or e == esp)

    def stats(self) -> dict[str, Any]:
        """Request counts and list sizes, also served at GET /_fake/stats (no auth) for a fake
        running in another process."""
        with self.lock:
            by_esp: Counter[str] = Counter()
            for (esp, _, _), n in self.counts.items():
                by_esp[esp] += n
            return {
                "requests": sum(by_esp.values()),
                "by_esp": dict(by_esp),
                "lists": {
                    "mailchimp": {s["name"]: len(s["members"]) for s in self.mc_segments.values()},
                    "klaviyo": {item["name"]: len(item["members"]) for item in self.kl_lists.values()},
                    "hubspot": {item["name"]: len(item["members"]) for item in self.hs_lists.values()},
                },
                "profiles": {
                    "mailchimp": len(self.mc_members),
                    "klaviyo": len(self.kl_profiles),
                    "hubspot": len(self.hs_contacts),
                },
            }

    def reset_log(self) -> None:
        with self.lock:
            self.log.clear()
            self.counts.clear()

    def emails_sent(self, esp: str | None = None) -> set[str]:
        """Every e-mail address found in any request body or query (the consent tests' net)."""
        found: set[str] = set()
        pattern = re.compile(r"[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}", re.IGNORECASE)
        for request in self.requests(esp):
            text = json.dumps(request.body) + " " + json.dumps(request.query)
            found.update(m.lower() for m in pattern.findall(text))
        return found

    # state views -----------------------------------------------------------------------------------

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

    def klaviyo_list(self, name: str) -> set[str]:
        with self.lock:
            by_id = {p["id"]: e for e, p in self.kl_profiles.items()}
            for item in self.kl_lists.values():
                if item["name"] == name:
                    return {by_id[i] for i in item["members"] if i in by_id}
        return set()

    def klaviyo_profile(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            profile = self.kl_profiles.get(email.lower())
            return json.loads(json.dumps(profile)) if profile else None

    def hubspot_list(self, name: str) -> set[str]:
        with self.lock:
            for item in self.hs_lists.values():
                if item["name"] == name:
                    return {self.hs_contacts[i]["properties"]["email"] for i in item["members"]}
        return set()

    def klaviyo_suppressed(self, email: str) -> bool:
        with self.lock:
            profile = self.kl_profiles.get(email.lower())
            return bool(profile and profile.get("suppression"))

    def hubspot_opted_out(self, email: str) -> bool:
        """Whether the address is opted out of all e-mail (HubSpot's "unsubscribed from all")."""
        with self.lock:
            return email.lower() in self.hs_opted_out

    def hubspot_contact(self, email: str) -> dict[str, Any] | None:
        with self.lock:
            record = self.hs_by_email.get(email.lower())
            return json.loads(json.dumps(self.hs_contacts[record])) if record else None

    def list_members(self, esp: str, name: str) -> set[str]:
        return {
            "mailchimp": self.mailchimp_segment,
            "klaviyo": self.klaviyo_list,
            "hubspot": self.hubspot_list,
        }[esp](name)

    # seeding (someone else's data) -------------------------------------------------------------------

    def seed_member(self, esp: str, email: str, *, list_name: str | None = None, status: str = "subscribed"):
        """A contact (and optionally a list membership) created outside our sync."""
        email = email.lower()
        with self.lock:
            if esp == "mailchimp":
                self.mc_members[md5(email)] = {"email_address": email, "status": status, "merge_fields": {}}
                if list_name:
                    self._mc_segment_by_name(list_name)["members"].add(email)
            elif esp == "klaviyo":
                profile = self._kl_upsert({"email": email})
                if list_name:
                    self._kl_list_by_name(list_name)["members"].add(profile["id"])
            elif esp == "hubspot":
                record = self._hs_upsert(email, {})
                if list_name:
                    self._hs_list_by_name(list_name)["members"].add(record)

    def _next_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids)}"

    def _mc_segment_by_name(self, name: str) -> dict[str, Any]:
        for segment in self.mc_segments.values():
            if segment["name"] == name:
                return segment
        segment_id = self._next_id()
        self.mc_segments[segment_id] = {"id": int(segment_id), "name": name, "members": set()}
        return self.mc_segments[segment_id]

    def _kl_list_by_name(self, name: str) -> dict[str, Any]:
        for item in self.kl_lists.values():
            if item["name"] == name:
                return item
        list_id = self._next_id("L")
        self.kl_lists[list_id] = {"id": list_id, "name": name, "members": set()}
        return self.kl_lists[list_id]

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

    # dispatch --------------------------------------------------------------------------------------

    def handle(self, handler: _Handler) -> None:
        parsed = urlparse(handler.path)
        path = unquote(parsed.path)
        query = parse_qs(parsed.query)
        method = handler.command
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        esp, _, rest = path.lstrip("/").partition("/")
        rest = "/" + rest
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if esp == "_fake":
            handler.reply(200, self.stats())
            return
        with self.lock:
            self.counts[(esp, method, re.sub(r"\d+|[0-9a-f]{32}", "#", rest))] += 1
            fault = self._take_fault(esp, method, rest)
            self.in_flight[esp] += 1
            self.max_in_flight[esp] = max(self.max_in_flight[esp], self.in_flight[esp])
        try:
            self._handle(handler, esp, method, rest, query, body, raw, fault)
        finally:
            with self.lock:
                self.in_flight[esp] -= 1

    def _handle(self, handler, esp, method, rest, query, body, raw, fault) -> None:
        status, payload, headers = 500, None, {}
        if fault and fault.kind == "hang":
            if fault.apply:
                try:
                    self._check_auth(esp, handler)
                    self._route(esp, method, rest, query, body, len(raw))
                except Reply:
                    pass
            self._log(esp, method, rest, query, 0, body)
            fault.hit.set()
            self.release.wait(fault.seconds or 3600)
            handler.close_connection = True
            return
        if fault and fault.kind == "status":
            headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
            headers.update(fault.headers)
            detail = {"detail": "injected fault"} if fault.body is None else fault.body
            if fault.echo_auth:
                detail["detail"] = f"bad request with credentials {handler.headers.get('Authorization')}"
            fault.hit.set()
            self._log(esp, method, rest, query, fault.status, body)
            handler.reply(fault.status, detail, headers)
            return
        if fault and fault.kind == "slow":
            fault.hit.set()
            time.sleep(fault.seconds)
        try:
            self._check_auth(esp, handler)
            status, payload = self._route(esp, method, rest, query, body, len(raw))
        except Reply as reply:
            status, payload, headers = reply.status, reply.body, reply.headers
        except Exception as error:
            status, payload = 500, {"detail": f"fake server error: {type(error).__name__}: {error}"}
        self._log(esp, method, rest, query, status, body)
        if fault and fault.kind == "drop":
            fault.hit.set()
            handler.close_connection = True
            return
        handler.reply(status, payload, headers)

    def _take_fault(self, esp: str, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.matches(esp, method, path):
                if fault.after > 0:
                    fault.after -= 1
                    continue
                fault.times -= 1
                return fault
        return None

    def _log(self, esp, method, path, query, status, body) -> None:
        with self.lock:
            self.log.append(
                LoggedRequest(esp, method, path, query, status, body if self.log_bodies else None)
            )

    def _check_auth(self, esp: str, handler: _Handler) -> None:
        header = handler.headers.get("Authorization", "")
        if esp == "mailchimp":
            expected = "Basic " + base64.b64encode(f"anystring:{self.mailchimp_key}".encode()).decode()
            if header != expected:
                raise Reply(401, {"title": "API Key Invalid", "status": 401})
        elif esp == "klaviyo":
            if header != f"Klaviyo-API-Key {self.klaviyo_key}":
                raise Reply(401, {"errors": [{"code": "not_authenticated", "detail": "bad key"}]})
            if not handler.headers.get("revision"):
                raise Reply(400, {"errors": [{"code": "invalid", "detail": "revision header required"}]})
        elif esp == "hubspot":
            if header != f"Bearer {self.hubspot_token}":
                raise Reply(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
        else:
            raise Reply(404, {"detail": f"unknown ESP prefix {esp!r}"})

    def _route(self, esp, method, path, query, body, size) -> tuple[int, Any]:
        routes = {"mailchimp": MAILCHIMP_ROUTES, "klaviyo": KLAVIYO_ROUTES, "hubspot": HUBSPOT_ROUTES}[esp]
        for route_method, pattern, name in routes:
            match = re.fullmatch(pattern, path.rstrip("/"))
            if match and route_method == method:
                with self.lock:
                    return getattr(self, name)(*match.groups(), query=query, body=body, size=size)
        raise Reply(404, {"detail": f"no route {method} {path}"})

    # mailchimp -------------------------------------------------------------------------------------

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
            if email in self.rejections["mailchimp"] or not EMAIL.match(email):
                message = self.rejections["mailchimp"].get(email, "invalid email")
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

    # klaviyo ---------------------------------------------------------------------------------------

    def _kl_upsert(self, attributes: dict[str, Any]) -> dict[str, Any]:
        email = str(attributes["email"]).lower()
        profile = self.kl_profiles.get(email)
        if profile is None:
            profile = {"id": self._next_id("P"), "email": email, "properties": {}}
            self.kl_profiles[email] = profile
        for key in ("first_name", "last_name"):
            if attributes.get(key) is not None:
                profile[key] = attributes[key]
        for key, value in (attributes.get("properties") or {}).items():
            if value is not None:
                profile["properties"][key] = value
        return profile

    def kl_lists_get(self, *, query, **_):
        wanted = None
        match = re.search(r'equals\(name,"(.*)"\)', query.get("filter", [""])[0])
        if match:
            wanted = json.loads(f'"{match.group(1)}"')
        data = [
            {"type": "list", "id": item["id"], "attributes": {"name": item["name"]}}
            for item in self.kl_lists.values()
            if wanted is None or item["name"] == wanted
        ]
        return 200, {"data": data, "links": {"self": "", "next": None}}

    def kl_lists_create(self, *, body, **_):
        name = (((body or {}).get("data") or {}).get("attributes") or {}).get("name")
        if not name:
            raise Reply(400, {"errors": [{"code": "invalid", "detail": "name required"}]})
        if any(item["name"] == name for item in self.kl_lists.values()):
            raise Reply(409, {"errors": [{"code": "duplicate", "detail": "list exists"}]})
        item = self._kl_list_by_name(name)
        return 201, {"data": {"type": "list", "id": item["id"], "attributes": {"name": name}}}

    def kl_import_create(self, *, body, size, **_):
        if size > KLAVIYO_IMPORT_BYTES:
            raise Reply(413, {"errors": [{"code": "too_large", "detail": "payload above 5MB"}]})
        data = (body or {}).get("data") or {}
        profiles = (((data.get("attributes") or {}).get("profiles")) or {}).get("data", [])
        if len(profiles) > KLAVIYO_IMPORT_LIMIT:
            raise Reply(400, {"errors": [{"code": "invalid", "detail": "at most 10,000 profiles per job"}]})
        lists = [
            item["id"] for item in ((data.get("relationships") or {}).get("lists") or {}).get("data", [])
        ]
        for list_id in lists:
            if list_id not in self.kl_lists:
                raise Reply(404, {"errors": [{"code": "not_found", "detail": f"list {list_id} not found"}]})
        errors, ids = [], []
        for index, item in enumerate(profiles):
            attributes = item.get("attributes") or {}
            email = str(attributes.get("email", "")).lower()
            message = self.rejections["klaviyo"].get(email) or (
                None if EMAIL.match(email) else "invalid email"
            )
            if message:
                errors.append(
                    {
                        "type": "import-error",
                        "id": self._next_id("E"),
                        "attributes": {
                            "code": "invalid",
                            "title": "Invalid input",
                            "detail": message,
                            "source": {"pointer": f"/data/attributes/profiles/data/{index}/attributes/email"},
                            "original_payload": item,
                        },
                    }
                )
                continue
            profile = self._kl_upsert(attributes)
            ids.append(profile["id"])
            for list_id in lists:
                self.kl_lists[list_id]["members"].add(profile["id"])
        job_id = self._next_id("J")
        self.kl_jobs[job_id] = {
            "id": job_id,
            "polls_left": self.klaviyo_polls_to_complete,
            "total": len(profiles),
            "failed": len(errors),
            "errors": errors,
            "profiles": ids,
        }
        return 202, {"data": self._kl_job_resource(self.kl_jobs[job_id], "queued")}

    def _kl_job_resource(self, job, status):
        done = status == "complete"
        return {
            "type": "profile-bulk-import-job",
            "id": job["id"],
            "attributes": {
                "status": status,
                "total_count": job["total"],
                "completed_count": job["total"] - job["failed"] if done else 0,
                "failed_count": job["failed"] if done else 0,
            },
        }

    def kl_import_get(self, job_id, **_):
        job = self.kl_jobs.get(job_id)
        if job is None:
            raise Reply(404, {"errors": [{"code": "not_found", "detail": "job not found"}]})
        if job["polls_left"] > 0:
            job["polls_left"] -= 1
            return 200, {"data": self._kl_job_resource(job, "processing")}
        return 200, {"data": self._kl_job_resource(job, "complete")}

    def _kl_page(self, items: list[Any], query, path: str) -> dict[str, Any]:
        size = min(int(query.get("page[size]", ["20"])[0]), 100)
        start = int(query.get("page[cursor]", ["0"])[0])
        page = items[start : start + size]
        next_link = None
        if start + size < len(items):
            params = {k: v[0] for k, v in query.items()}
            params["page[cursor]"] = str(start + size)
            next_link = f"{self.url}/klaviyo{path}?{urlencode(params)}"
        return {"data": page, "links": {"self": "", "next": next_link}}

    def kl_import_errors(self, job_id, *, query, **_):
        job = self.kl_jobs.get(job_id)
        if job is None:
            raise Reply(404, {"errors": [{"code": "not_found"}]})
        return 200, self._kl_page(
            job["errors"], query, f"/api/profile-bulk-import-jobs/{job_id}/import-errors"
        )

    def kl_import_profiles(self, job_id, *, query, **_):
        job = self.kl_jobs.get(job_id)
        if job is None:
            raise Reply(404, {"errors": [{"code": "not_found"}]})
        by_id = {p["id"]: p for p in self.kl_profiles.values()}
        items = [
            {"type": "profile", "id": i, "attributes": {"email": by_id[i]["email"]}}
            for i in job["profiles"]
            if i in by_id
        ]
        return 200, self._kl_page(items, query, f"/api/profile-bulk-import-jobs/{job_id}/profiles")

    def kl_list_profiles(self, list_id, *, query, **_):
        item = self.kl_lists.get(list_id)
        if item is None:
            raise Reply(404, {"errors": [{"code": "not_found"}]})
        wanted = None
        match = re.search(r"any\(email,\[(.*)\]\)", query.get("filter", [""])[0])
        if match:
            wanted = {e.lower() for e in json.loads(f"[{match.group(1)}]")}
            if len(wanted) > 100:
                raise Reply(400, {"errors": [{"code": "invalid", "detail": "at most 100 values in any()"}]})
        by_id = {p["id"]: p for p in self.kl_profiles.values()}
        items = [
            {"type": "profile", "id": i, "attributes": {"email": by_id[i]["email"]}}
            for i in sorted(item["members"])
            if i in by_id and (wanted is None or by_id[i]["email"] in wanted)
        ]
        return 200, self._kl_page(items, query, f"/api/lists/{list_id}/profiles")

    def _kl_relationship_ids(self, list_id, body) -> list[str]:
        if list_id not in self.kl_lists:
            raise Reply(404, {"errors": [{"code": "not_found"}]})
        ids = [item["id"] for item in (body or {}).get("data", [])]
        if len(ids) > KLAVIYO_LIST_LIMIT:
            raise Reply(400, {"errors": [{"code": "invalid", "detail": "at most 1000 profiles per call"}]})
        return ids

    def kl_list_add(self, list_id, *, body, **_):
        known = {p["id"] for p in self.kl_profiles.values()}
        for profile_id in self._kl_relationship_ids(list_id, body):
            if profile_id in known:
                self.kl_lists[list_id]["members"].add(profile_id)
        return 204, None

    def kl_list_remove(self, list_id, *, body, **_):
        for profile_id in self._kl_relationship_ids(list_id, body):
            self.kl_lists[list_id]["members"].discard(profile_id)
        return 204, None

    def kl_deletion(self, *, body, **_):
        profile = ((((body or {}).get("data") or {}).get("attributes") or {}).get("profile") or {}).get(
            "data"
        ) or {}
        email = str((profile.get("attributes") or {}).get("email", "")).lower()
        if not email:
            raise Reply(400, {"errors": [{"code": "invalid", "detail": "email required"}]})
        self.kl_deletions.append(email)
        removed = self.kl_profiles.pop(email, None)
        if removed:
            for item in self.kl_lists.values():
                item["members"].discard(removed["id"])
        return 202, None

    def kl_subscribe(self, **_):
        return 202, None

    def kl_profiles_get(self, *, query, **_):
        """GET /api/profiles filtered by any(email,[...]) or equals(email,"...")."""
        text = query.get("filter", [""])[0]
        wanted = None
        many = re.fullmatch(r"any\(email,\[(.*)\]\)", text)
        one = re.fullmatch(r'equals\(email,("[^"]*")\)', text)
        if many:
            wanted = {e.lower() for e in json.loads(f"[{many.group(1)}]")}
            if len(wanted) > 100:
                raise Reply(400, {"errors": [{"code": "invalid", "detail": "at most 100 values in any()"}]})
        elif one:
            wanted = {json.loads(one.group(1)).lower()}
        elif text:
            raise Reply(400, {"errors": [{"code": "invalid", "detail": f"unsupported filter {text}"}]})
        items = [
            {"type": "profile", "id": p["id"], "attributes": {"email": p["email"]}}
            for email, p in sorted(self.kl_profiles.items())
            if wanted is None or email in wanted
        ]
        return 200, self._kl_page(items, query, "/api/profiles")

    def kl_suppress(self, *, body, **_):
        """A bulk suppression job: every e-mail (at most 100) and every member of a given list is
        suppressed; an e-mail without a profile gets a new, suppressed profile, as the real API does."""
        data = (body or {}).get("data") or {}
        if data.get("type") != "profile-suppression-bulk-create-job":
            raise Reply(
                400,
                {
                    "errors": [
                        {"code": "invalid", "detail": "type must be profile-suppression-bulk-create-job"}
                    ]
                },
            )
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
        relationships = data.get("relationships") or {}
        if profiles is None and not relationships:
            raise Reply(
                400, {"errors": [{"code": "invalid", "detail": "profiles or a list/segment required"}]}
            )
        profiles = profiles or []
        if len(profiles) > 100:
            raise Reply(
                400, {"errors": [{"code": "invalid", "detail": "at most 100 email addresses per request"}]}
            )
        emails = []
        for item in profiles:
            email = str(((item or {}).get("attributes") or {}).get("email", "")).lower()
            if (item or {}).get("type") != "profile" or not EMAIL.match(email):
                raise Reply(
                    400, {"errors": [{"code": "invalid", "detail": "each profile needs a valid email"}]}
                )
            emails.append(email)
        list_id = (((relationships.get("list") or {}).get("data")) or {}).get("id")
        if list_id is not None:
            if list_id not in self.kl_lists:
                raise Reply(404, {"errors": [{"code": "not_found", "detail": f"list {list_id} not found"}]})
            by_id = {p["id"]: e for e, p in self.kl_profiles.items()}
            emails += [by_id[i] for i in self.kl_lists[list_id]["members"] if i in by_id]
        for email in emails:
            self._kl_upsert({"email": email})["suppression"] = "USER_SUPPRESSED"
        job = {"id": self._next_id("S"), "emails": emails}
        self.kl_suppression_jobs.append(job)
        return 202, {
            "data": {
                "type": "profile-suppression-bulk-create-job",
                "id": job["id"],
                "attributes": {"status": "queued", "total_count": len(emails), "completed_count": 0},
            }
        }

    # hubspot ---------------------------------------------------------------------------------------

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
            message = self.rejections["hubspot"].get(email) or (
                None if EMAIL.match(email) else "invalid email"
            )
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


MAILCHIMP_ROUTES = [
    ("POST", r"/3\.0/lists/([^/]+)", "mc_batch"),
    ("GET", r"/3\.0/lists/([^/]+)/segments", "mc_segments_list"),
    ("POST", r"/3\.0/lists/([^/]+)/segments", "mc_segment_create"),
    ("POST", r"/3\.0/lists/([^/]+)/segments/(\d+)", "mc_segment_batch"),
    ("POST", r"/3\.0/lists/([^/]+)/members/([0-9a-f]{32})/actions/delete-permanent", "mc_delete_permanent"),
    ("GET", r"/3\.0/lists/([^/]+)/members/([0-9a-f]{32})", "mc_member_get"),
    ("PATCH", r"/3\.0/lists/([^/]+)/members/([0-9a-f]{32})", "mc_member_patch"),
]
KLAVIYO_ROUTES = [
    ("GET", r"/api/lists", "kl_lists_get"),
    ("POST", r"/api/lists", "kl_lists_create"),
    ("POST", r"/api/profile-bulk-import-jobs", "kl_import_create"),
    ("GET", r"/api/profile-bulk-import-jobs/([^/]+)", "kl_import_get"),
    ("GET", r"/api/profile-bulk-import-jobs/([^/]+)/import-errors", "kl_import_errors"),
    ("GET", r"/api/profile-bulk-import-jobs/([^/]+)/profiles", "kl_import_profiles"),
    ("GET", r"/api/lists/([^/]+)/profiles", "kl_list_profiles"),
    ("POST", r"/api/lists/([^/]+)/relationships/profiles", "kl_list_add"),
    ("DELETE", r"/api/lists/([^/]+)/relationships/profiles", "kl_list_remove"),
    ("POST", r"/api/data-privacy-deletion-jobs", "kl_deletion"),
    ("POST", r"/api/profile-subscription-bulk-create-jobs", "kl_subscribe"),
    ("GET", r"/api/profiles", "kl_profiles_get"),
    ("POST", r"/api/profile-suppression-bulk-create-jobs", "kl_suppress"),
]
HUBSPOT_ROUTES = [
    ("POST", r"/crm/v3/objects/contacts/batch/upsert", "hs_upsert"),
    ("POST", r"/crm/v3/objects/contacts/batch/read", "hs_read"),
    ("GET", r"/crm/v3/lists/object-type-id/([^/]+)/name/(.+)", "hs_list_by_name"),
    ("POST", r"/crm/v3/lists", "hs_list_create"),
    ("PUT", r"/crm/v3/lists/([^/]+)/memberships/add", "hs_list_add"),
    ("PUT", r"/crm/v3/lists/([^/]+)/memberships/remove", "hs_list_remove"),
    ("POST", r"/crm/v3/objects/contacts/gdpr-delete", "hs_gdpr_delete"),
    ("POST", r"/communication-preferences/v4/statuses/([^/]+)/unsubscribe-all", "hs_unsubscribe_all"),
]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeESP

    def log_message(self, format: str, *args: Any) -> None:
        return

    def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None or status == 204 else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if data:
                self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _dispatch(self) -> None:
        self.server_fake.handle(self)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fake Mailchimp/Klaviyo/HubSpot for local runs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    args = parser.parse_args(argv)
    try:
        fake = FakeESP(args.host, args.port, log_bodies=False).start()
    except OSError as error:
        print(
            f"fake ESP: cannot listen on {args.host}:{args.port} ({error.strerror or error}); "
            "another process has the port: pick another (--port N, or 0 for a free one)",
            file=sys.stderr,
        )
        return 1
    print(f"fake ESP listening on {fake.url}; point the pipeline at it with:", flush=True)
    for key, value in fake.env().items():
        print(f"export {key}={value}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
