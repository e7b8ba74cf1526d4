"""The fake Klaviyo JSON:API (mirrors activation/destinations/klaviyo.py): profiles, lists, bulk
import jobs that complete after a number of polls, import errors, list relationships, privacy
deletion, profile lookups and suppression jobs (at most 100 e-mails). Like the real API, the
subscribe endpoint "works" (tests assert it is never called) and suppressing an address Klaviyo
does not know creates a suppressed profile for it (tests assert we never do)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlencode

from fake_esp.core import EMAIL, Api, Reply

KLAVIYO_KEY = "pk_c85156cefd2dc70b3867119fd1e53c217e"
KLAVIYO_IMPORT_LIMIT = 10_000
KLAVIYO_IMPORT_BYTES = 5_000_000
KLAVIYO_LIST_LIMIT = 1_000
SUBSCRIBE_PATHS = ("profile-subscription-bulk-create-jobs",)


class FakeKlaviyo:
    """Klaviyo's state and handlers, mixed into FakeESP."""

    def _init_klaviyo(self, key: str, polls_to_complete: int) -> None:
        self.klaviyo_key = key
        self.klaviyo_polls_to_complete = polls_to_complete
        self.kl_profiles: dict[str, dict[str, Any]] = {}
        self.kl_lists: dict[str, dict[str, Any]] = {}
        self.kl_jobs: dict[str, dict[str, Any]] = {}
        self.kl_deletions: list[str] = []
        self.kl_suppression_jobs: list[dict[str, Any]] = []

    def _klaviyo_env(self) -> dict[str, str]:
        return {"AW_KLAVIYO_API_KEY": self.klaviyo_key, "AW_KLAVIYO_BASE_URL": f"{self.url}/klaviyo"}

    def _klaviyo_auth(self, headers) -> None:
        if headers.get("Authorization", "") != f"Klaviyo-API-Key {self.klaviyo_key}":
            raise Reply(401, {"errors": [{"code": "not_authenticated", "detail": "bad key"}]})
        if not headers.get("revision"):
            raise Reply(400, {"errors": [{"code": "invalid", "detail": "revision header required"}]})

    def _klaviyo_lists(self) -> dict[str, int]:
        return {item["name"]: len(item["members"]) for item in self.kl_lists.values()}

    def _klaviyo_profiles(self) -> int:
        return len(self.kl_profiles)

    def _klaviyo_seed(self, email: str, *, list_name: str | None, status: str) -> None:
        profile = self._kl_upsert({"email": email})
        if list_name:
            self._kl_list_by_name(list_name)["members"].add(profile["id"])

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

    def klaviyo_suppressed(self, email: str) -> bool:
        with self.lock:
            profile = self.kl_profiles.get(email.lower())
            return bool(profile and profile.get("suppression"))

    def _kl_list_by_name(self, name: str) -> dict[str, Any]:
        for item in self.kl_lists.values():
            if item["name"] == name:
                return item
        list_id = self._next_id("L")
        self.kl_lists[list_id] = {"id": list_id, "name": name, "members": set()}
        return self.kl_lists[list_id]

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
            message = self.rejection("klaviyo", email)
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


ROUTES = [
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

API = Api.of(FakeKlaviyo, "klaviyo", ROUTES, members=FakeKlaviyo.klaviyo_list)
