"""The server every fake ESP shares: an HTTP server on 127.0.0.1 that routes `/<esp>/...` to the
ESP's handlers, checks its auth, logs and counts every request, and injects faults on demand: a
status (429 with Retry-After, 500), a slow response beyond the client timeout, a dropped
connection after the request was applied, a hang (for killing a process mid-sync), and rows
rejected inside an otherwise good batch. What each ESP answers lives in its own module."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

EMAIL = re.compile(r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$")


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


@dataclass(frozen=True)
class Api:
    """One ESP the server speaks: its URL prefix, its routes (method, path pattern, name of the
    handler method) and the hooks the server calls with itself as first argument."""

    prefix: str
    routes: list[tuple[str, str, str]]
    check_auth: Callable[[Any, Any], None]
    env: Callable[[Any], dict[str, str]]
    lists: Callable[[Any], dict[str, int]]
    profiles: Callable[[Any], int]
    members: Callable[[Any, str], set[str]]
    seed: Callable[..., None]

    @classmethod
    def of(cls, part: type, prefix: str, routes: list[tuple[str, str, str]], members: Callable) -> Api:
        """The Api of an ESP part whose hooks follow the naming of every part: `_<prefix>_auth`,
        `_<prefix>_env`, `_<prefix>_lists`, `_<prefix>_profiles` and `_<prefix>_seed`."""
        hooks = {hook: getattr(part, f"_{prefix}_{hook}") for hook in ("env", "lists", "profiles", "seed")}
        return cls(prefix, routes, getattr(part, f"_{prefix}_auth"), members=members, **hooks)


class FakeServer:
    """The HTTP server, request log, counters and faults; the ESP parts are mixed in (APIS)."""

    APIS: tuple[Api, ...] = ()

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, log_bodies: bool = True):
        self.host = host
        self.port = port
        self.log_bodies = log_bodies
        self.lock = threading.RLock()
        self.release = threading.Event()
        self.faults: list[Fault] = []
        self.log: list[LoggedRequest] = []
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight: Counter[str] = Counter()
        self.rejections: dict[str, dict[str, str]] = {api.prefix: {} for api in self.APIS}
        self._ids = itertools.count(1001)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------------

    def start(self):
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def env(self) -> dict[str, str]:
        """The environment variables that point the activation package here."""
        return {name: value for api in self.APIS for name, value in api.env(self).items()}

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

    def rejection(self, esp: str, email: str) -> str | None:
        """Why the ESP refuses this (lower-cased) address inside a batch: a rejection a test set,
        or a malformed address; None when it takes it."""
        return self.rejections[esp].get(email) or (None if EMAIL.match(email) else "invalid email")

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
                "lists": {api.prefix: api.lists(self) for api in self.APIS},
                "profiles": {api.prefix: api.profiles(self) for api in self.APIS},
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

    def list_members(self, esp: str, name: str) -> set[str]:
        return self._api(esp).members(self, name)

    def seed_member(self, esp: str, email: str, *, list_name: str | None = None, status: str = "subscribed"):
        """A contact (and optionally a list membership) created outside our sync; `status` is the
        Mailchimp member status."""
        with self.lock:
            self._api(esp).seed(self, email.lower(), list_name=list_name, status=status)

    def _next_id(self, prefix: str = "") -> str:
        return f"{prefix}{next(self._ids)}"

    def _api(self, esp: str) -> Api:
        for api in self.APIS:
            if api.prefix == esp:
                return api
        raise Reply(404, {"detail": f"unknown ESP prefix {esp!r}"})

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
        self._api(esp).check_auth(self, handler.headers)

    def _route(self, esp, method, path, query, body, size) -> tuple[int, Any]:
        for route_method, pattern, name in self._api(esp).routes:
            match = re.fullmatch(pattern, path.rstrip("/"))
            if match and route_method == method:
                with self.lock:
                    return getattr(self, name)(*match.groups(), query=query, body=body, size=size)
        raise Reply(404, {"detail": f"no route {method} {path}"})


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_fake: FakeServer

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
