"""The run log: one SyncResult per list and what is written of it, a `sync_runs` row per list
(opened as `running`, closed with its outcome) and `sync_results` rows per member, so every
member of every run can be traced to what was done and why."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from activation.destinations.base import FAILED, REJECTED, SENT, ListHandle
from activation.routing import Route
from activation.state import Warehouse

if TYPE_CHECKING:
    from activation.plan import SyncPlan


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id() -> str:
    return f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


@dataclass
class SyncResult:
    run_id: str
    source_destination: str
    destination: str
    list_key: str
    status: str
    dry_run: bool
    counts: dict[str, int]
    sent: int = 0
    rejected: int = 0
    failed: int = 0
    requests_made: int = 0
    duration_seconds: float = 0.0
    message: str = ""
    excluded_reasons: dict[str, int] = field(default_factory=dict)
    plan: SyncPlan | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status in ("success", "dry_run", "skipped")

    def line(self) -> str:
        c = self.counts
        return (
            f"{self.source_destination:<9} {self.list_key:<28} {self.status:<8} in={c.get('rows_in', 0):>8} "
            f"excl={c.get('excluded', 0):>6} create={c.get('creates', 0):>7} update={c.get('updates', 0):>7} "
            f"remove={c.get('removes', 0):>6} release={c.get('releases', 0):>5} "
            + (f"suppress={c['suppressions']:>5} " if "suppressions" in c else "")
            + f"unchanged={c.get('unchanged', 0):>8} "
            f"sent={self.sent:>7} rejected={self.rejected:>5} failed={self.failed:>5} "
            f"requests={self.requests_made:>6} {self.duration_seconds:7.2f}s {self.message}"
        ).rstrip()

    def note(self, text: str) -> None:
        """Append to the message, after whatever it already says."""
        self.message = (self.message + "; " if self.message else "") + text

    def count(self, statuses: Iterable[str]) -> None:
        """Add per-member outcomes to the sent, rejected and failed totals."""
        statuses = list(statuses)
        self.sent += sum(1 for s in statuses if s == SENT)
        self.rejected += sum(1 for s in statuses if s == REJECTED)
        self.failed += sum(1 for s in statuses if s == FAILED)

    def settle(self) -> None:
        """The final status from the totals: success when nothing failed, partial when some of it
        was sent, failed otherwise."""
        if self.failed == 0:
            self.status = "success"
        else:
            self.status = "partial" if self.sent > 0 else "failed"


def format_results(results: Iterable[SyncResult]) -> str:
    """A plain-text table, one line per list (what a dry run prints)."""
    return "\n".join(r.line() for r in results)


def results_frame(run_id: str, route: Route, keys, customers, action: str, statuses, reasons) -> pd.DataFrame:
    """sync_results rows of one action on one list; `statuses` and `reasons` are one value for
    every member or one per member."""
    keys = list(keys)
    frame = pd.DataFrame(
        {
            "member_key": pd.Series(keys, dtype=object),
            "customer_key": pd.Series(list(customers), dtype=object),
            "action": action,
            "status": pd.Series(list(statuses) if not isinstance(statuses, str) else [statuses] * len(keys)),
            "reason": pd.Series(
                list(reasons) if not isinstance(reasons, str | None) else [reasons] * len(keys)
            ),
        }
    )
    frame["reason"] = frame["reason"].astype(object)
    frame["run_id"] = run_id
    frame["destination"] = route.destination
    frame["list_key"] = route.state_list_key
    return frame


def exclusions_frame(run_id: str, route: Route, excluded: pd.DataFrame) -> pd.DataFrame:
    """An `exclude` result per excluded row, with its reason."""
    return results_frame(
        run_id,
        route,
        excluded["member_key"],
        excluded["customer_key"],
        "exclude",
        REJECTED,
        excluded["reason"],
    )


@dataclass
class RunLog:
    """Writes one list's sync_runs row: opened at the start, rewritten with the outcome."""

    warehouse: Warehouse
    result: SyncResult
    route: Route
    started: datetime = field(default_factory=utcnow)
    forced: bool = False
    handle: ListHandle | None = None
    clock: float = field(default_factory=time.monotonic)

    def row(self) -> dict[str, Any]:
        result, c = self.result, self.result.counts
        known = result.plan.known_list if result.plan else None
        return {
            "run_id": result.run_id,
            "destination": self.route.destination,
            "list_key": self.route.state_list_key,
            "esp_list_id": self.handle.esp_list_id if self.handle else (known[0] if known else None),
            "started_at": self.started,
            "finished_at": None if result.status == "running" else utcnow(),
            "status": result.status,
            "dry_run": result.dry_run,
            "forced": bool(self.forced),
            "rows_in": c.get("rows_in", 0),
            "eligible": c.get("eligible", 0),
            "excluded": c.get("excluded", 0),
            "planned_creates": c.get("creates", 0),
            "planned_updates": c.get("updates", 0),
            "planned_removes": c.get("removes", 0) + c.get("releases", 0),
            "planned_unchanged": c.get("unchanged", 0),
            "sent": result.sent,
            "rejected": result.rejected,
            "failed": result.failed,
            "requests_made": result.requests_made,
            "duration_seconds": result.duration_seconds,
            "message": result.message or None,
        }

    def write(self) -> None:
        self.warehouse.write_run(self.row())

    def finish(self) -> None:
        """Record how long the list took and write its row."""
        self.result.duration_seconds = time.monotonic() - self.clock
        self.write()
