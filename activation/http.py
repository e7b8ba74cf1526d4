"""One HTTP client per ESP: httpx for transport, tenacity for retries, a small throttle for
concurrency and requests per second.

Retried: 429 (waiting what Retry-After says), 5xx, timeouts and dropped connections, with
exponential back-off and full jitter otherwise. Not retried: other 4xx, which the ESP will refuse
again. The credential lives only in the client's default headers or auth; log lines show method,
path and status, and any ESP text that reaches an exception passes through `redact` whole, before
it is cut to length (a key cut in two would no longer match as a whole)."""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from activation.config import HttpSettings
from activation.errors import ESPRequestError, redact

log = logging.getLogger("activation.http")

# httpcore's DEBUG trace prints response headers verbatim, and an ESP may echo the key in one: it
# stays at INFO unless the application set a level for it.
if logging.getLogger("httpcore").level == logging.NOTSET:
    logging.getLogger("httpcore").setLevel(logging.INFO)

ERROR_TEXT_LIMIT = 300


class TransientError(Exception):
    """A failure worth retrying. `maybe_applied` is True when the ESP may have acted on the request
    before it failed (5xx, timeout, dropped connection), False when it surely did not (429, refused
    connection)."""

    def __init__(self, message: str, *, retry_after: float | None = None, maybe_applied: bool = True):
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied


@dataclass
class ApiResponse:
    status_code: int
    body: Any
    headers: httpx.Headers
    attempts: int
    maybe_applied_twice: bool


class Throttle:
    """At most `max_concurrency` requests in flight and at most `rps` starts per second."""

    def __init__(self, max_concurrency: int, rps: float):
        self._slots = threading.BoundedSemaphore(max(1, max_concurrency))
        self._interval = 1.0 / rps if rps and rps > 0 else 0.0
        self._lock = threading.Lock()
        self._next_start = 0.0

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self._slots:
            if self._interval:
                with self._lock:
                    now = time.monotonic()
                    start = max(now, self._next_start)
                    self._next_start = start + self._interval
                if start > now:
                    time.sleep(start - now)
            yield


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class ApiClient:
    """A thread-safe JSON client bound to one ESP base URL."""

    def __init__(
        self,
        esp: str,
        base_url: str,
        settings: HttpSettings,
        *,
        headers: dict[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ):
        self.esp = esp
        self.settings = settings
        self._secrets = secrets
        self._throttle = Throttle(settings.max_concurrency, settings.requests_per_second)
        self._count_lock = threading.Lock()
        self._requests = 0
        self._client = httpx.Client(
            base_url=base_url,
            headers=headers or {},
            auth=auth,
            timeout=httpx.Timeout(settings.timeout_seconds),
            limits=httpx.Limits(
                max_connections=max(1, settings.max_concurrency),
                max_keepalive_connections=max(1, settings.max_concurrency),
            ),
        )

    def __repr__(self) -> str:
        return f"ApiClient(esp={self.esp!r}, base_url={str(self._client.base_url)!r})"

    @property
    def requests_made(self) -> int:
        return self._requests

    def redact(self, text: str) -> str:
        """`text` without this client's credentials or any piece of them, for texts the ESP sent
        that the caller turns into a message (per-row errors in a batch answer)."""
        return redact(text, self._secrets)

    def close(self) -> None:
        self._client.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        ok_statuses: tuple[int, ...] = (),
    ) -> ApiResponse:
        """Send with retries. Statuses in `ok_statuses` (e.g. 404 on a lookup) are returned, not
        raised. Raises ESPRequestError when the ESP refuses or retries run out."""
        # paths carry ids the ESP chose (lists, import jobs), so they are ESP text too
        label = self.redact(f"{self.esp} {method} {path}")
        applied_before = False
        attempts = 0

        def once() -> ApiResponse:
            nonlocal applied_before, attempts
            attempts += 1
            try:
                response = self._send(method, path, json, params, label)
            except TransientError as error:
                if error.maybe_applied:
                    applied_before = True
                raise
            status = response.status_code
            if status < 400 or status in ok_statuses:
                body = _decode(response)
                return ApiResponse(status, body, response.headers, attempts, applied_before and attempts > 1)
            text = self.redact(response.text)[:ERROR_TEXT_LIMIT]
            raise ESPRequestError(
                f"{label} answered {status}: {text}",
                esp=self.esp,
                status_code=status,
                retryable=False,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(max(1, self.settings.max_attempts)),
            wait=self._wait,
            before_sleep=self._before_sleep(label),
            reraise=True,
        )
        try:
            return retrying(once)
        except TransientError as error:
            raise ESPRequestError(
                f"{label} failed after {attempts} attempts: {self.redact(str(error))}",
                esp=self.esp,
                retryable=True,
            ) from None

    def _send(
        self, method: str, path: str, json: Any, params: dict[str, Any] | None, label: str
    ) -> httpx.Response:
        with self._throttle.slot():
            with self._count_lock:
                self._requests += 1
            try:
                response = self._client.request(method, path, json=json, params=params)
            except httpx.ConnectError as error:
                raise TransientError(
                    f"connection refused ({type(error).__name__})", maybe_applied=False
                ) from None
            except httpx.TimeoutException as error:
                raise TransientError(f"timed out ({type(error).__name__})") from None
            except httpx.TransportError as error:
                raise TransientError(f"connection dropped ({type(error).__name__})") from None
        status = response.status_code
        log.debug("%s -> %s", label, status)
        if status == 429:
            raise TransientError(
                "rate limited (429)",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                maybe_applied=False,
            )
        if status >= 500:
            raise TransientError(f"server error {status}")
        return response

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TransientError) and error.retry_after is not None:
            return min(error.retry_after, self.settings.max_retry_after)
        backoff = wait_random_exponential(
            multiplier=self.settings.backoff_initial, max=self.settings.backoff_max
        )
        return backoff(state)

    def _before_sleep(self, label: str):
        def hook(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            wait = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s attempt %d failed (%s); retrying in %.2fs",
                label,
                state.attempt_number,
                self.redact(str(error)),
                wait,
            )

        return hook


def _decode(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text
