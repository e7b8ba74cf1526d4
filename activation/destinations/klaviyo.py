"""Klaviyo JSON:API (revision header).

Profiles go through bulk import jobs (`/api/profile-bulk-import-jobs`, at most 10,000 profiles and
5 MB per job), polled to completion, with import errors fetched per job. New members of our list
ride in the job's `lists` relationship, which adds them to the list without touching consent;
removals use `DELETE /api/lists/{id}/relationships/profiles` (at most 1,000 ids). Profile ids are
kept in the sync state when known and otherwise looked up by e-mail at removal time
(`/api/lists/{id}/profiles?filter=any(email,[...])`), since fetching the id of every imported
profile costs one request per 100 profiles.

The subscribe endpoints (`profile-subscription-bulk-create-jobs`) are never called: they change
consent and clear suppressions, which a marketing audience push must not do.

A member who must not be mailed is also suppressed (`POST /api/profile-suppression-bulk-create-jobs`,
at most 100 e-mails a job), which stops all e-mail marketing to the profile whatever list or
campaign. That endpoint creates a suppressed profile for an address Klaviyo does not know, so the
addresses are first looked up (`GET /api/profiles?filter=any(email,[...])`) and only existing
profiles are sent."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlparse

from activation.config import KlaviyoConfig
from activation.destinations.base import (
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

MAX_IMPORT = 10_000
MAX_IMPORT_BYTES = 5_000_000
MAX_LIST_IDS = 1_000
MAX_SUPPRESS = 100
FORBIDDEN_PATHS = ("profile-subscription-bulk-create-jobs", "profile-subscription-bulk-delete-jobs")
POINTER = re.compile(r"/profiles/data/(\d+)")


def profile_resource(member: Member) -> dict[str, Any]:
    """A profile object: e-mail and names as attributes, every other field as a property."""
    attributes: dict[str, Any] = {"email": member.member_key}
    properties: dict[str, Any] = {}
    for name, value in member.fields.items():
        if name in ("first_name", "last_name"):
            attributes[name] = value
        else:
            properties[name] = value
    if properties:
        attributes["properties"] = properties
    return {"type": "profile", "attributes": attributes}


class KlaviyoDestination(EspDestination):
    name = "klaviyo"

    def __init__(self, config: KlaviyoConfig):
        key = config.api_key.reveal()
        super().__init__(
            config,
            headers={
                "Authorization": f"Klaviyo-API-Key {key}",
                "revision": config.revision,
                "accept": "application/vnd.api+json",
                "content-type": "application/vnd.api+json",
            },
            secrets=(key,),
        )
        self.batch_size = min(config.import_batch_size, MAX_IMPORT)
        self.suppress_batch_size = min(config.list_batch_size, MAX_SUPPRESS)

    def _request(self, method: str, path: str, **kwargs):
        if any(part in path for part in FORBIDDEN_PATHS):
            raise ESPRequestError(f"refusing to call {path}: it changes consent", esp="klaviyo")
        return self.api.request(method, path, **kwargs)

    def ensure_list(self, list_key: str, known_id: str | None) -> ListHandle:
        if known_id:
            return ListHandle(list_key, known_id)
        found = self._request(
            "GET", "/api/lists", params={"filter": f"equals(name,{json.dumps(list_key)})"}
        ).body
        for item in (found or {}).get("data", []):
            if item.get("attributes", {}).get("name") == list_key:
                return ListHandle(list_key, str(item["id"]))
        created = self._request(
            "POST", "/api/lists", json={"data": {"type": "list", "attributes": {"name": list_key}}}
        ).body
        return ListHandle(list_key, str(created["data"]["id"]), created_now=True)

    def push(self, handle: ListHandle, creates: list[Member], updates: list[Member]) -> dict[str, Outcome]:
        outcomes: dict[str, Outcome] = {}
        existing: dict[str, str] = {}
        if creates and not handle.created_now:
            existing = self.list_members(handle, [m.member_key for m in creates])
        list_id = handle.esp_list_id if handle else None
        for group, target in ((creates, list_id), (updates, None)):
            for job_members in self._split(group):
                outcomes.update(self._import(job_members, target, existing))
        return outcomes

    def _split(self, members: list[Member]) -> list[list[Member]]:
        """Jobs of at most 10,000 profiles and (with headroom for the envelope) 5 MB."""
        limit = min(self.config.import_max_bytes, MAX_IMPORT_BYTES) - 10_000
        jobs: list[list[Member]] = []
        current: list[Member] = []
        size = 0
        for member in members:
            member_size = len(json.dumps(profile_resource(member), ensure_ascii=False).encode()) + 1
            if current and (len(current) >= self.batch_size or size + member_size > limit):
                jobs.append(current)
                current, size = [], 0
            current.append(member)
            size += member_size
        if current:
            jobs.append(current)
        return jobs

    def _import(
        self, members: list[Member], list_id: str | None, existing: dict[str, str]
    ) -> dict[str, Outcome]:
        data: dict[str, Any] = {
            "type": "profile-bulk-import-job",
            "attributes": {"profiles": {"data": [profile_resource(m) for m in members]}},
        }
        if list_id:
            data["relationships"] = {"lists": {"data": [{"type": "list", "id": list_id}]}}
        try:
            job = self._request("POST", "/api/profile-bulk-import-jobs", json={"data": data}).body["data"]
            final = self._poll(job["id"])
        except ESPRequestError as error:
            return all_failed([m.member_key for m in members], f"import job failed: {error}")
        status = final.get("attributes", {}).get("status")
        if status != "complete":
            return all_failed([m.member_key for m in members], f"import job ended {status}")
        errors: dict[str, str] = {}
        if int(final.get("attributes", {}).get("failed_count") or 0) > 0:
            try:
                errors = self._import_errors(job["id"], members)
            except ESPRequestError as error:
                return all_failed([m.member_key for m in members], f"import errors unreadable: {error}")
        outcomes = {}
        for member in members:
            key = member.member_key
            if key in errors:
                outcomes[key] = Outcome(REJECTED, f"klaviyo rejected: {errors[key]}")
            elif list_id:
                ours = key not in existing or member.was_pending
                outcomes[key] = Outcome(SENT, esp_record_id=existing.get(key), created_by_us=ours)
            else:
                outcomes[key] = Outcome(SENT, esp_record_id=member.esp_record_id)
        return outcomes

    def _poll(self, job_id: str) -> dict[str, Any]:
        interval = self.config.poll_interval
        deadline = time.monotonic() + self.config.poll_timeout
        while True:
            job = self._request("GET", f"/api/profile-bulk-import-jobs/{job_id}").body["data"]
            if job.get("attributes", {}).get("status") in ("complete", "cancelled"):
                return job
            if time.monotonic() > deadline:
                raise ESPRequestError(
                    f"import job {job_id} still running after polling timeout", esp="klaviyo"
                )
            time.sleep(interval)
            interval = min(interval * 1.5, self.config.poll_max_interval)

    def _import_errors(self, job_id: str, members: list[Member]) -> dict[str, str]:
        errors: dict[str, str] = {}
        for item in self._pages(f"/api/profile-bulk-import-jobs/{job_id}/import-errors", {}):
            attributes = item.get("attributes", {})
            message = self.redact(
                f"{attributes.get('code')}: {attributes.get('detail') or attributes.get('title')}"
            )
            email = ((attributes.get("original_payload") or {}).get("attributes") or {}).get("email")
            if not email:
                match = POINTER.search(str((attributes.get("source") or {}).get("pointer", "")))
                if match and int(match.group(1)) < len(members):
                    email = members[int(match.group(1))].member_key
            if email:
                errors[str(email).strip().lower()] = message
        return errors

    def _pages(self, path: str, params: dict[str, Any]):
        params = {**params, "page[size]": self.config.page_size}
        while True:
            body = self._request("GET", path, params=params).body or {}
            yield from body.get("data", [])
            next_link = (body.get("links") or {}).get("next")
            if not next_link:
                return
            cursor = parse_qs(urlparse(next_link).query).get("page[cursor]")
            if not cursor:
                return
            params = {**params, "page[cursor]": cursor[0]}

    def list_members(self, handle: ListHandle, emails: list[str]) -> dict[str, str]:
        """Which of these e-mails are in our list already, with their profile ids."""
        return self._profile_ids(f"/api/lists/{handle.esp_list_id}/profiles", emails)

    def _profile_ids(self, path: str, emails: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for group in chunks(emails, self.config.page_size):
            quoted = ",".join(json.dumps(e) for e in group)
            for item in self._pages(path, {"filter": f"any(email,[{quoted}])", "fields[profile]": "email"}):
                email = str(item.get("attributes", {}).get("email", "")).lower()
                if email:
                    found[email] = str(item["id"])
        return found

    def suppress(self, members: list[StateMember]) -> dict[str, Outcome]:
        pairs, outcomes = self.records(
            members,
            lambda emails: self._profile_ids("/api/profiles", emails),
            what="profile",
            absent="no klaviyo profile",
            known_ids=False,
        )
        outcomes.update(
            self.send_groups(pairs, MAX_SUPPRESS, self._suppression_job, "suppression job failed")
        )
        return outcomes

    def _suppression_job(self, group: list[tuple[str, str]]) -> None:
        profiles = [{"type": "profile", "attributes": {"email": email}} for email, _ in group]
        body = {
            "data": {
                "type": "profile-suppression-bulk-create-job",
                "attributes": {"profiles": {"data": profiles}},
            }
        }
        self._request("POST", "/api/profile-suppression-bulk-create-jobs", json=body)

    def remove(self, handle: ListHandle, members: list[StateMember]) -> dict[str, Outcome]:
        pairs, outcomes = self.records(
            members,
            lambda emails: self.list_members(handle, emails),
            what="profile",
            absent="not in the klaviyo list",
        )

        def delete(group: list[tuple[str, str]]) -> None:
            self._request(
                "DELETE",
                f"/api/lists/{handle.esp_list_id}/relationships/profiles",
                json={"data": [{"type": "profile", "id": pid} for _, pid in group]},
            )

        outcomes.update(self.send_groups(pairs, MAX_LIST_IDS, delete, "list remove failed"))
        return outcomes

    def erase(self, email: str, customer_key: str | None) -> Outcome:
        self._request(
            "POST",
            "/api/data-privacy-deletion-jobs",
            json={
                "data": {
                    "type": "data-privacy-deletion-job",
                    "attributes": {"profile": {"data": {"type": "profile", "attributes": {"email": email}}}},
                }
            },
        )
        return Outcome(SENT)
