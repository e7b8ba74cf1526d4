"""The diff-sync engine: push only what changed since the last acknowledged sync.

Per (destination, list) it compares the consented audience with `activation.sync_state` and sends
creates (upsert + add to our list), updates (upsert only) and removes (membership we created
ourselves). Crash safety comes from three rules:

1. members about to be added are written to the state as *pending* before any add is sent;
2. state is written per acknowledged batch, in the same transaction as that batch's results;
3. every ESP call is idempotent (upsert by e-mail, set-like list membership).

A re-run after a crash therefore re-sends what was not acknowledged, and a pending member who is
no longer wanted is removed like one of ours. A volume guard refuses to remove more than
`max_shrink_share` of a list in one run (or to empty it) unless forced, once at least
`guard_min_members` would leave; removals required by consent (suppression, erasure) are never
held back by the guard: a refused list still loses its consent removals.

Before the lists, every run reconciles what earlier runs wrote elsewhere (see `_reconcile`): a
member of any of an ESP's lists who must not be mailed is suppressed at the ESP itself, once per
address, and file audiences written while an ESP had no keys are retired once it has them."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from activation.audience import (
    CONSENT_REASONS,
    PreparedAudience,
    SuppressionIndex,
    member_fields,
    normalize_email,
    prepare_audience,
    validate_frame,
)
from activation.config import DESTINATION_NAMES, ESP_NAMES, ActivationConfig
from activation.destinations.base import (
    FAILED,
    REJECTED,
    SENT,
    Destination,
    ListHandle,
    Member,
    Outcome,
    StateMember,
)
from activation.destinations.file import FileDestination
from activation.errors import ActivationError, ConfigError, InputError
from activation.state import Warehouse
from warehouse.context import warehouse_path

log = logging.getLogger("activation.sync")

MAX_CONSECUTIVE_FAILED_BATCHES = 3
# The list key of an ESP's suppression rows in sync_state: one row per address we suppressed (or
# are suppressing: pending) at that ESP, across all its lists; erasure forgets them with the rest.
ESP_WIDE = "*"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id() -> str:
    return f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"


@dataclass
class Route:
    """Where one (destination, list) of the input goes: the ESP itself, or the file destination
    when the ESP is not configured."""

    source_destination: str
    list_key: str
    destination: str
    state_list_key: str


@dataclass
class SyncPlan:
    """What a run would do for one list."""

    route: Route
    prepared: PreparedAudience
    creates: pd.DataFrame
    updates: pd.DataFrame
    removes: pd.DataFrame
    releases: pd.DataFrame
    unchanged: int
    consent_removes: int
    state_size: int
    shrink_share: float
    refused: bool
    guard_message: str
    known_list: tuple[str, bool] | None = None

    def counts(self) -> dict[str, int]:
        return {
            "rows_in": self.prepared.rows_in,
            "eligible": len(self.prepared.eligible),
            "excluded": len(self.prepared.excluded),
            "creates": len(self.creates),
            "updates": len(self.updates),
            "removes": len(self.removes),
            "releases": len(self.releases),
            "unchanged": self.unchanged,
            "consent_removes": self.consent_removes,
        }


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


def format_results(results: Iterable[SyncResult]) -> str:
    """A plain-text table, one line per list (what a dry run prints)."""
    return "\n".join(r.line() for r in results)


def _results_frame(run_id, route: Route, keys, customers, action: str, statuses, reasons) -> pd.DataFrame:
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


class SyncEngine:
    """Holds the configuration, the warehouse and one client per destination for a run."""

    def __init__(
        self,
        warehouse: str | Path | Warehouse | None = None,
        config: ActivationConfig | None = None,
        destinations: dict[str, Destination] | None = None,
    ):
        self.config = config or ActivationConfig.from_env()
        if isinstance(warehouse, Warehouse):
            self.warehouse = warehouse
        else:
            self.warehouse = Warehouse(warehouse or warehouse_path())
        self._destinations: dict[str, Destination] = dict(destinations or {})
        self._owned: set[str] = set()

    def __enter__(self) -> SyncEngine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for name in list(self._owned):
            self._destinations.pop(name).close()
        self._owned.clear()

    def is_configured(self, name: str) -> bool:
        return name in self._destinations or name in self.config.configured()

    def destination(self, name: str) -> Destination:
        if name not in self._destinations:
            self._destinations[name] = self._build(name)
            self._owned.add(name)
        return self._destinations[name]

    def _build(self, name: str) -> Destination:
        from activation.destinations.hubspot import HubSpotDestination
        from activation.destinations.klaviyo import KlaviyoDestination
        from activation.destinations.mailchimp import MailchimpDestination

        if name == "file":
            return FileDestination(self.config.file)
        if name == "mailchimp" and self.config.mailchimp:
            return MailchimpDestination(self.config.mailchimp)
        if name == "klaviyo" and self.config.klaviyo:
            return KlaviyoDestination(self.config.klaviyo)
        if name == "hubspot" and self.config.hubspot:
            return HubSpotDestination(self.config.hubspot)
        raise ConfigError(f"{name} is not configured (see activation.config.ENV_VARS)")

    # routing ---------------------------------------------------------------------------------------

    def route(self, source: str, list_key: str) -> Route | None:
        if source not in DESTINATION_NAMES:
            raise InputError(f"unknown destination {source!r}; expected one of {DESTINATION_NAMES}")
        if source == "file" or self.is_configured(source):
            return Route(source, list_key, source, list_key)
        if self.config.unconfigured == "file":
            return Route(source, list_key, "file", f"{source}/{list_key}")
        if self.config.unconfigured == "skip":
            return None
        raise ConfigError(f"audience {list_key!r} is for {source}, which is not configured")

    def _routes(
        self, desired: pd.DataFrame, scope: set[str], state_lists: pd.DataFrame
    ) -> list[tuple[str, str]]:
        pairs = set(zip(desired["destination"].astype(str), desired["list_key"].astype(str), strict=True))
        for destination, list_key in state_lists.itertuples(index=False):
            if list_key == ESP_WIDE:
                continue
            if destination == "file" and "/" in list_key:
                source, _, name = list_key.partition("/")
                if source in ESP_NAMES and source in scope and not self.is_configured(source):
                    pairs.add((source, name))
                continue
            if destination in scope:
                pairs.add((destination, list_key))
        return sorted(pairs)

    # the run ---------------------------------------------------------------------------------------

    def sync(
        self,
        desired: pd.DataFrame,
        suppressions: pd.DataFrame | None,
        erasure_requests: pd.DataFrame | None = None,
        *,
        dry_run: bool = False,
        force: bool | Iterable[str] = False,
        destinations: Iterable[str] | None = None,
        run_id: str | None = None,
    ) -> list[SyncResult]:
        validate_frame(desired)
        if suppressions is None:
            raise InputError("a suppression frame is required (an empty one is fine)")
        run_id = run_id or new_run_id()
        state_lists = self.warehouse.state_lists()
        if destinations is not None:
            scope = set(destinations)
        else:
            known = {
                d if d != "file" or "/" not in k else k.partition("/")[0]
                for d, k in state_lists.itertuples(index=False)
            }
            scope = set(desired["destination"].astype(str)) | known
        unknown = scope - set(DESTINATION_NAMES)
        if unknown:
            raise InputError(f"unknown destinations {sorted(unknown)}; expected one of {DESTINATION_NAMES}")
        erased = self.warehouse.erased_addresses(normalize_email(desired["email"]))
        suppression = SuppressionIndex(suppressions, erasure_requests, erased)
        pairs = self._routes(desired, scope, state_lists)
        routes = []
        for source, list_key in pairs:
            routes.append((source, list_key, self.route(source, list_key)))
        reconciled = self._reconcile(scope, state_lists, suppression, run_id, dry_run)
        keys = desired["destination"].astype(str) + "\x00" + desired["list_key"].astype(str)
        grouped = {name: frame for name, frame in desired.groupby(keys, sort=False)}
        results = []
        for source, list_key, route in routes:
            rows = grouped.get(f"{source}\x00{list_key}", desired.iloc[0:0])
            if route is None:
                results.append(
                    SyncResult(
                        run_id,
                        source,
                        source,
                        list_key,
                        "skipped",
                        dry_run,
                        {"rows_in": len(rows)},
                        message=f"{source} is not configured",
                    )
                )
                continue
            forced = force if isinstance(force, bool) else (list_key in set(force))
            results.append(self._sync_list(route, rows, suppression, run_id, dry_run, forced))
        return results + reconciled

    def plan(self, route: Route, rows: pd.DataFrame, suppression: SuppressionIndex, force: bool) -> SyncPlan:
        prepared = prepare_audience(
            rows,
            route.source_destination,
            route.list_key,
            suppression,
            holdout_salt=self.config.holdout.salt,
            holdout_share=self.config.holdout.share_for,
        )
        state, known_list = self.warehouse.list_context(route.destination, route.state_list_key)
        eligible = prepared.eligible
        merged = eligible.merge(
            state.rename(columns={"payload_hash": "state_hash", "customer_key": "state_customer_key"}),
            on="member_key",
            how="left",
            indicator=True,
        )
        in_state = merged["_merge"] == "both"
        pending = merged["pending"].astype("boolean").fillna(False).astype(bool) & in_state
        creates = merged[~in_state | pending]
        updates = merged[in_state & ~pending & (merged["state_hash"] != merged["payload_hash"])]
        unchanged = int((in_state & ~pending & (merged["state_hash"] == merged["payload_hash"])).sum())
        leaving = state[~state["member_key"].isin(eligible["member_key"])].copy()
        consent = suppression.reasons(leaving["member_key"], leaving["customer_key"]).notna()
        excluded_consent = prepared.excluded[prepared.excluded["reason"].isin(CONSENT_REASONS)]
        consent |= leaving["member_key"].isin(excluded_consent["member_key"])
        leaving["consent"] = consent.to_numpy()
        ours = leaving["created_by_us"].astype("boolean").fillna(False).astype(bool) | leaving[
            "pending"
        ].astype(bool)
        removes = leaving[ours.to_numpy()]
        releases = leaving[~ours.to_numpy()]
        non_consent = int((~leaving["consent"]).sum())
        size = len(state)
        share = non_consent / size if size else 0.0
        refused = False
        message = ""
        collapsing = len(eligible) == 0 or share > self.config.max_shrink_share
        if size and non_consent and non_consent >= self.config.guard_min_members and collapsing:
            message = (
                f"volume guard: {non_consent} of {size} members ({share:.1%}) would leave {route.list_key}, "
                f"above the {self.config.max_shrink_share:.0%} limit"
                + (" (the audience is empty)" if len(eligible) == 0 else "")
            )
            refused = not force
            if force:
                message += "; forced"
        return SyncPlan(
            route=route,
            prepared=prepared,
            creates=creates,
            updates=updates,
            removes=removes,
            releases=releases,
            unchanged=unchanged,
            consent_removes=int(leaving["consent"].sum()),
            state_size=size,
            shrink_share=share,
            refused=refused,
            guard_message=message,
            known_list=known_list,
        )

    def _sync_list(
        self,
        route: Route,
        rows: pd.DataFrame,
        suppression: SuppressionIndex,
        run_id: str,
        dry_run: bool,
        force: bool,
    ) -> SyncResult:
        started = utcnow()
        clock = time.monotonic()
        plan = self.plan(route, rows, suppression, force)
        counts = plan.counts()
        excluded_reasons = plan.prepared.excluded["reason"].value_counts().to_dict()
        result = SyncResult(
            run_id,
            route.source_destination,
            route.destination,
            route.list_key,
            "running",
            dry_run,
            counts,
            excluded_reasons={str(k): int(v) for k, v in excluded_reasons.items()},
            plan=plan,
            message=plan.guard_message,
        )
        if route.destination != route.source_destination:
            result.message = (result.message + "; " if result.message else "") + (
                f"{route.source_destination} not configured: written to the file destination"
            )
        if dry_run or plan.refused:
            result.status = "dry_run" if dry_run else "refused"
            result.duration_seconds = time.monotonic() - clock
            if plan.refused and not dry_run:
                excluded = plan.prepared.excluded
                self.warehouse.record_results(
                    _results_frame(
                        run_id,
                        route,
                        excluded["member_key"],
                        excluded["customer_key"],
                        "exclude",
                        REJECTED,
                        excluded["reason"],
                    )
                )
                log.warning("%s %s refused: %s", route.source_destination, route.list_key, plan.guard_message)
                self._consent_removals_despite_guard(plan, result)
            self._write_run(result, route, started, force, None)
            return result
        destination = self.destination(route.destination)
        before = destination.requests_made
        excluded = plan.prepared.excluded
        self.warehouse.start_list(
            self._run_row(result, route, started, force, None),
            _results_frame(
                run_id,
                route,
                excluded["member_key"],
                excluded["customer_key"],
                "exclude",
                REJECTED,
                excluded["reason"],
            ),
            plan.prepared.assignments,
            run_id,
        )
        handle = None
        try:
            if destination.snapshot:
                handle = self._run_snapshot(destination, plan, result)
            else:
                handle = self._run_incremental(destination, plan, result)
        except ActivationError as error:
            result.status = "failed"
            result.message = (result.message + "; " if result.message else "") + str(error)
            log.error("%s %s failed: %s", route.source_destination, route.list_key, error)
        except BaseException as error:
            result.status = "failed"
            result.message = (
                result.message + "; " if result.message else ""
            ) + f"crashed: {type(error).__name__}"
            result.duration_seconds = time.monotonic() - clock
            self._write_run(result, route, started, force, handle)
            raise
        else:
            if result.failed == 0:
                result.status = "success"
            elif result.sent > 0:
                result.status = "partial"
            else:
                result.status = "failed"
        result.requests_made = destination.requests_made - before
        result.duration_seconds = time.monotonic() - clock
        self._write_run(result, route, started, force, handle)
        log.info("%s", result.line())
        return result

    def _write_run(self, result: SyncResult, route: Route, started: datetime, force: bool, handle) -> None:
        self.warehouse.write_run(self._run_row(result, route, started, force, handle))

    @staticmethod
    def _run_row(result: SyncResult, route: Route, started: datetime, force: bool, handle) -> dict:
        c = result.counts
        plan_list = result.plan.known_list if result.plan else None
        finished = None if result.status == "running" else utcnow()
        return {
            "run_id": result.run_id,
            "destination": route.destination,
            "list_key": route.state_list_key,
            "esp_list_id": handle.esp_list_id if handle else (plan_list[0] if plan_list else None),
            "started_at": started,
            "finished_at": finished,
            "status": result.status,
            "dry_run": result.dry_run,
            "forced": bool(force),
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

    # snapshot destinations -------------------------------------------------------------------------

    def _run_snapshot(self, destination: FileDestination, plan: SyncPlan, result: SyncResult) -> ListHandle:
        route = plan.route
        eligible = plan.prepared.eligible
        columns = ["member_key", "customer_key", *plan.prepared.fields]
        frame = eligible[columns].rename(columns={"member_key": "email"}).sort_values("email", kind="stable")
        handle = destination.ensure_list(route.state_list_key, None)
        unchanged = plan.creates.empty and plan.updates.empty and plan.removes.empty and plan.releases.empty
        if unchanged and all(p.exists() for p in destination.paths(route.state_list_key).values()):
            return handle
        destination.write_snapshot(route.state_list_key, frame.reset_index(drop=True))
        now = utcnow()
        state = pd.DataFrame(
            {
                "member_key": eligible["member_key"],
                "customer_key": eligible["customer_key"],
                "esp_record_id": None,
                "payload_hash": eligible["payload_hash"],
                "synced_at": now,
                "created_by_us": True,
                "pending": False,
                "run_id": result.run_id,
            }
        )
        leaving = pd.concat([plan.removes, plan.releases])
        results = pd.concat(
            [
                _results_frame(
                    result.run_id,
                    route,
                    plan.creates["member_key"],
                    plan.creates["customer_key"],
                    "create",
                    SENT,
                    None,
                ),
                _results_frame(
                    result.run_id,
                    route,
                    plan.updates["member_key"],
                    plan.updates["customer_key"],
                    "update",
                    SENT,
                    None,
                ),
                _results_frame(
                    result.run_id, route, leaving["member_key"], leaving["customer_key"], "remove", SENT, None
                ),
            ],
            ignore_index=True,
        )
        self.warehouse.replace_list_state(route.destination, route.state_list_key, state, results)
        result.sent = len(results)
        return handle

    # incremental destinations ----------------------------------------------------------------------

    def _run_incremental(
        self, destination: Destination, plan: SyncPlan, result: SyncResult
    ) -> ListHandle | None:
        route = plan.route
        wh = self.warehouse
        if plan.creates.empty and plan.updates.empty and plan.removes.empty and plan.releases.empty:
            return None
        handle = None
        if not plan.creates.empty or not plan.removes.empty:
            known = plan.known_list
            handle = destination.ensure_list(route.list_key, known[0] if known else None)
            if not known:
                wh.save_list_id(
                    route.destination,
                    route.state_list_key,
                    handle.esp_list_id,
                    route.list_key,
                    handle.created_now,
                )
        if not plan.releases.empty:
            releases = plan.releases
            wh.apply_batch(
                route.destination,
                route.state_list_key,
                deletes=list(releases["member_key"]),
                results=_results_frame(
                    result.run_id,
                    route,
                    releases["member_key"],
                    releases["customer_key"],
                    "release",
                    SENT,
                    "membership not created by us: left in place",
                ),
            )
            result.sent += len(releases)
        if not plan.removes.empty:
            self._remove(destination, handle, plan, result)
        fresh = plan.creates[plan.creates["_merge"] != "both"]
        if not fresh.empty:
            wh.insert_pending(route.destination, route.state_list_key, fresh, result.run_id)
        self._push(destination, handle, plan, result)
        return handle

    def _remove(
        self, destination: Destination, handle: ListHandle, plan: SyncPlan, result: SyncResult
    ) -> None:
        route = plan.route
        removes = plan.removes
        members = [
            StateMember(
                member_key=r.member_key,
                customer_key=r.customer_key if isinstance(r.customer_key, str) else None,
                esp_record_id=r.esp_record_id if isinstance(r.esp_record_id, str) else None,
                created_by_us=bool(r.created_by_us) if pd.notna(r.created_by_us) else False,
                pending=bool(r.pending),
            )
            for r in removes.itertuples(index=False)
        ]
        customers = dict(zip(removes["member_key"], removes["customer_key"], strict=True))
        size = max(1, destination.batch_size)
        for start in range(0, len(members), size):
            group = members[start : start + size]
            try:
                outcomes = destination.remove(handle, group)
            except ActivationError as error:
                outcomes = {m.member_key: Outcome(FAILED, str(error)) for m in group}
            keys = [m.member_key for m in group]
            statuses = [outcomes.get(k, Outcome(FAILED, "no outcome")).status for k in keys]
            reasons = [outcomes.get(k, Outcome(FAILED, "no outcome")).reason for k in keys]
            done = [k for k, s in zip(keys, statuses, strict=True) if s == SENT]
            self.warehouse.apply_batch(
                route.destination,
                route.state_list_key,
                deletes=done,
                results=_results_frame(
                    result.run_id, route, keys, [customers[k] for k in keys], "remove", statuses, reasons
                ),
            )
            self._count(result, statuses)

    def _push(
        self, destination: Destination, handle: ListHandle | None, plan: SyncPlan, result: SyncResult
    ) -> None:
        route = plan.route
        fields = plan.prepared.fields
        work = pd.concat(
            [plan.creates.assign(sync_action="create"), plan.updates.assign(sync_action="update")]
        )
        if work.empty:
            return
        size = max(1, destination.batch_size)
        batches = [work.iloc[start : start + size] for start in range(0, len(work), size)]
        consecutive_failures = 0
        aborted = False
        with ThreadPoolExecutor(max_workers=max(1, destination.max_concurrency)) as pool:
            pending: dict[Future, pd.DataFrame] = {}
            queue = iter(batches)
            # enough batches in flight that the workers keep sending while this thread writes
            window = max(8, max(1, destination.max_concurrency) * 4)

            def submit_next() -> bool:
                batch = next(queue, None)
                if batch is None:
                    return False
                pending[pool.submit(self._push_batch, destination, handle, batch, fields)] = batch
                return True

            for _ in range(window):
                if not submit_next():
                    break
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                acknowledged = [(pending.pop(future), future.result()) for future in done]
                self._record_push(route, acknowledged, result)
                for _batch, outcomes in acknowledged:
                    statuses = [o.status for o in outcomes.values()]
                    if statuses and all(s == FAILED for s in statuses):
                        consecutive_failures += 1
                    else:
                        consecutive_failures = 0
                    if consecutive_failures >= MAX_CONSECUTIVE_FAILED_BATCHES:
                        aborted = True
                    if not aborted:
                        submit_next()
            if aborted:
                rest = [b for b in queue]
                if rest:
                    skipped = pd.concat(rest)
                    self.warehouse.record_results(
                        _results_frame(
                            result.run_id,
                            route,
                            skipped["member_key"],
                            skipped["customer_key"],
                            "create",
                            FAILED,
                            "not attempted: the destination kept failing",
                        ).assign(action=list(skipped["sync_action"]))
                    )
                    result.failed += len(skipped)
                result.message = (result.message + "; " if result.message else "") + (
                    f"stopped after {MAX_CONSECUTIVE_FAILED_BATCHES} failed batches in a row"
                )

    @staticmethod
    def _push_batch(
        destination: Destination, handle, batch: pd.DataFrame, fields: list[str]
    ) -> dict[str, Outcome]:
        creates, updates = [], []
        for row in batch.to_dict("records"):
            member = Member(
                member_key=row["member_key"],
                customer_key=row["customer_key"],
                fields=member_fields(row, fields),
                payload_hash=row["payload_hash"],
                esp_record_id=row["esp_record_id"] if isinstance(row.get("esp_record_id"), str) else None,
                was_pending=bool(row.get("pending")) if pd.notna(row.get("pending")) else False,
            )
            (creates if row["sync_action"] == "create" else updates).append(member)
        try:
            outcomes = destination.push(handle, creates, updates)
        except ActivationError as error:
            return {m.member_key: Outcome(FAILED, str(error)) for m in [*creates, *updates]}
        for member in [*creates, *updates]:
            outcomes.setdefault(member.member_key, Outcome(FAILED, "no outcome from the destination"))
        return outcomes

    def _record_push(
        self, route: Route, acknowledged: list[tuple[pd.DataFrame, dict[str, Outcome]]], result
    ) -> None:
        """Write every batch acknowledged since the last write in one transaction: usually one
        batch, several when acknowledgements arrive faster than a warehouse write takes."""
        now = utcnow()
        upserts = []
        deletes = []
        statuses, reasons = [], []
        batch = pd.concat([b for b, _ in acknowledged])
        outcomes = {k: v for _, o in acknowledged for k, v in o.items()}
        for row in batch.itertuples(index=False):
            outcome = outcomes[row.member_key]
            statuses.append(outcome.status)
            reasons.append(outcome.reason)
            was_pending = bool(row.pending) if pd.notna(row.pending) else False
            if outcome.status == SENT:
                prior = bool(row.created_by_us) if pd.notna(row.created_by_us) else False
                if row.sync_action == "create":
                    ours = prior or bool(outcome.created_by_us if outcome.created_by_us is not None else True)
                else:
                    ours = prior
                state_id = row.esp_record_id if isinstance(row.esp_record_id, str) else None
                upserts.append(
                    (
                        row.member_key,
                        row.customer_key,
                        outcome.esp_record_id or state_id,
                        row.payload_hash,
                        now,
                        ours,
                        False,
                        result.run_id,
                    )
                )
            elif outcome.status == REJECTED and row.sync_action == "create" and not was_pending:
                deletes.append(row.member_key)
        frame = pd.DataFrame(
            upserts,
            columns=[
                "member_key",
                "customer_key",
                "esp_record_id",
                "payload_hash",
                "synced_at",
                "created_by_us",
                "pending",
                "run_id",
            ],
        )
        results = _results_frame(
            result.run_id, route, batch["member_key"], batch["customer_key"], "create", statuses, reasons
        )
        results["action"] = list(batch["sync_action"])
        self.warehouse.apply_batch(
            route.destination, route.state_list_key, upserts=frame, deletes=deletes, results=results
        )
        self._count(result, statuses)

    @staticmethod
    def _count(result: SyncResult, statuses: list[str]) -> None:
        result.sent += sum(1 for s in statuses if s == SENT)
        result.rejected += sum(1 for s in statuses if s == REJECTED)
        result.failed += sum(1 for s in statuses if s == FAILED)

    # reconciliation ------------------------------------------------------------------------------

    def _reconcile(
        self,
        scope: set[str],
        state_lists: pd.DataFrame,
        suppression: SuppressionIndex,
        run_id: str,
        dry_run: bool,
    ) -> list[SyncResult]:
        """Bring in line, before the lists sync, what earlier runs wrote outside this run's lists:
        ESP-wide suppression of everyone in our state who must not be mailed, and retirement of
        file audiences whose ESP now takes them. Both follow the scope: the file fallback of an
        ESP's lists belongs to that ESP's export, like the lists themselves."""
        results = []
        for name in ESP_NAMES:
            if name not in scope:
                continue
            if self.is_configured(name):
                result = self._suppress_at_esp(name, suppression, run_id, dry_run)
                if result is not None:
                    results.append(result)
            elif (state_lists["destination"] == name).any():
                log.warning(
                    "%s is not configured: the lists written to it earlier stay as they are until it is", name
                )
        for source, list_key in self._stale_file_lists(scope, state_lists):
            results.append(self._retire_file_list(source, list_key, run_id, dry_run))
        return results

    @staticmethod
    def _suppression_plan(
        state: pd.DataFrame, suppression: SuppressionIndex
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """From an ESP's state rows: one row per address to suppress now (consent reason, not yet
        acknowledged), and the suppression rows of people no longer suppressed, to forget."""
        state = state.assign(
            reason=suppression.reasons(state["member_key"], state["customer_key"]).to_numpy()
        )
        marker = (state["list_key"] == ESP_WIDE).to_numpy()
        pending = state["pending"].astype(bool).to_numpy()
        done = set(state.loc[marker & ~pending, "member_key"])
        flagged = state[state["reason"].notna()]
        wanted = flagged[~flagged["member_key"].isin(done)].sort_values(
            ["member_key", "list_key"], kind="stable"
        )
        ids = wanted.dropna(subset=["esp_record_id"]).drop_duplicates("member_key").set_index("member_key")
        wanted = wanted.drop_duplicates("member_key").reset_index(drop=True)
        wanted["esp_record_id"] = wanted["member_key"].map(ids["esp_record_id"]).astype(object)
        stale = state[marker & ~state["member_key"].isin(flagged["member_key"]).to_numpy()]
        return wanted, stale

    def _suppress_at_esp(
        self, name: str, suppression: SuppressionIndex, run_id: str, dry_run: bool
    ) -> SyncResult | None:
        """Suppress at the ESP itself every address our state holds there (any list, pending or
        not) that must not be mailed, once per address. Crash-safe like the lists: a pending
        suppression row is written first and acknowledged per batch, so a re-run sends only what
        was not acknowledged and a later run sends nothing. Only addresses in our state are ever
        sent, and each client sends only those the ESP holds."""
        started = utcnow()
        clock = time.monotonic()
        state = self.warehouse.esp_state(name)
        if state.empty:
            return None
        wanted, stale = self._suppression_plan(state, suppression)
        if wanted.empty and stale.empty:
            return None
        route = Route(name, ESP_WIDE, name, ESP_WIDE)
        counts = {"rows_in": len(wanted), "suppressions": len(wanted), "releases": len(stale)}
        result = SyncResult(
            run_id,
            name,
            name,
            ESP_WIDE,
            "running",
            dry_run,
            counts,
            message=f"ESP-wide suppression of {len(wanted)} address(es) that must not be mailed",
        )
        if dry_run:
            result.status = "dry_run"
            result.duration_seconds = time.monotonic() - clock
            self._write_run(result, route, started, False, None)
            return result
        destination = self.destination(name)
        before = destination.requests_made
        self._write_run(result, route, started, False, None)
        if not stale.empty:
            self.warehouse.apply_batch(
                name,
                ESP_WIDE,
                deletes=list(stale["member_key"]),
                results=_results_frame(
                    run_id,
                    route,
                    stale["member_key"],
                    stale["customer_key"],
                    "release",
                    SENT,
                    "no longer suppressed here: the ESP keeps the status it has",
                ),
            )
        if not wanted.empty:
            self.warehouse.insert_pending(name, ESP_WIDE, wanted, run_id)
        try:
            size = max(1, destination.suppress_batch_size)
            for start in range(0, len(wanted), size):
                self._suppress_batch(destination, route, wanted.iloc[start : start + size], result)
        except BaseException as error:
            result.status = "failed"
            result.message += f"; crashed: {type(error).__name__}"
            result.duration_seconds = time.monotonic() - clock
            self._write_run(result, route, started, False, None)
            raise
        if result.failed == 0 and result.rejected == 0:
            result.status = "success"
        else:
            result.status = "partial" if result.sent else "failed"
            log.error(
                "%s: %d suppression(s) not done, retried next run", name, result.failed + result.rejected
            )
        result.requests_made = destination.requests_made - before
        result.duration_seconds = time.monotonic() - clock
        self._write_run(result, route, started, False, None)
        log.info("%s", result.line())
        return result

    def _suppress_batch(
        self, destination: Destination, route: Route, batch: pd.DataFrame, result: SyncResult
    ) -> None:
        """Send one batch and record it in one transaction: acknowledged addresses become done
        suppression rows, the others stay pending for the next run."""
        members = [
            StateMember(
                member_key=row.member_key,
                customer_key=row.customer_key if isinstance(row.customer_key, str) else None,
                esp_record_id=row.esp_record_id if isinstance(row.esp_record_id, str) else None,
                created_by_us=False,
            )
            for row in batch.itertuples(index=False)
        ]
        try:
            outcomes = destination.suppress(members)
        except ActivationError as error:
            outcomes = {m.member_key: Outcome(FAILED, str(error)) for m in members}
        keys = list(batch["member_key"])
        found = [outcomes.get(k, Outcome(FAILED, "no outcome from the destination")) for k in keys]
        statuses = [o.status for o in found]
        reasons = [
            f"{why}: {o.reason}" if o.reason else why for why, o in zip(batch["reason"], found, strict=True)
        ]
        done = batch[[s == SENT for s in statuses]].reset_index(drop=True)
        ids = {k: o.esp_record_id for k, o in zip(keys, found, strict=True) if o.esp_record_id}
        rows = pd.DataFrame(
            {
                "member_key": done["member_key"],
                "customer_key": done["customer_key"],
                "esp_record_id": [
                    ids.get(k, i) for k, i in zip(done["member_key"], done["esp_record_id"], strict=True)
                ],
                "payload_hash": None,
                "synced_at": utcnow(),
                "created_by_us": None,
                "pending": False,
                "run_id": result.run_id,
            }
        )
        self.warehouse.apply_batch(
            route.destination,
            ESP_WIDE,
            upserts=rows,
            results=_results_frame(
                result.run_id, route, keys, batch["customer_key"], "suppress", statuses, reasons
            ),
        )
        self._count(result, statuses)

    def _stale_file_lists(self, scope: set[str], state_lists: pd.DataFrame) -> list[tuple[str, str]]:
        """File audiences written for an ESP without keys (`<esp>/<list>`) whose ESP now takes its
        audiences itself, or whose audiences are no longer exported at all (unconfigured=skip)."""
        stale = set()
        for destination, list_key in state_lists.itertuples(index=False):
            if destination != "file" or "/" not in list_key:
                continue
            source, _, name = list_key.partition("/")
            if source not in ESP_NAMES or source not in scope:
                continue
            if self.is_configured(source) or self.config.unconfigured == "skip":
                stale.add((source, name))
        return sorted(stale)

    def _retire_file_list(self, source: str, list_key: str, run_id: str, dry_run: bool) -> SyncResult:
        """Delete a stale file audience and forget its state, with a result row per member saying
        why: left in place it would keep people who have since become non-contactable. It is a
        change of route, not a shrink, so the volume guard does not apply. Files go first, so a
        crash in between leaves state that the next run retires again."""
        started = utcnow()
        clock = time.monotonic()
        state_key = f"{source}/{list_key}"
        route = Route(source, list_key, "file", state_key)
        state, _ = self.warehouse.list_context("file", state_key)
        if self.is_configured(source):
            why = f"{source} is configured and syncs this audience itself: file fallback retired"
        else:
            why = f"{source} is not exported (AW_ACTIVATION_UNCONFIGURED=skip): file fallback retired"
        result = SyncResult(
            run_id,
            source,
            "file",
            list_key,
            "running",
            dry_run,
            {"rows_in": 0, "removes": len(state)},
            message=why,
        )
        if not dry_run:
            removed = self.destination("file").retire(state_key)
            self.warehouse.replace_list_state(
                "file",
                state_key,
                pd.DataFrame(),
                _results_frame(
                    run_id, route, state["member_key"], state["customer_key"], "remove", SENT, why
                ),
            )
            log.warning(
                "%s: retired the file audience %s (%d members; %s): %s",
                source,
                state_key,
                len(state),
                "deleted " + ", ".join(str(p) for p in removed) if removed else "no file left",
                why,
            )
            result.sent = len(state)
        result.status = "dry_run" if dry_run else "success"
        result.duration_seconds = time.monotonic() - clock
        self._write_run(result, route, started, False, None)
        return result

    def _consent_removals_despite_guard(self, plan: SyncPlan, result: SyncResult) -> None:
        """A list the volume guard refused still loses the members who must not be mailed, and
        nothing else: consent removals are never held back by the guard."""
        removes = plan.removes[plan.removes["consent"].astype(bool).to_numpy()]
        releases = plan.releases[plan.releases["consent"].astype(bool).to_numpy()]
        if removes.empty and releases.empty:
            return
        route = plan.route
        destination = self.destination(route.destination)
        before = destination.requests_made
        try:
            if destination.snapshot:
                leaving = pd.concat([removes, releases], ignore_index=True)
                destination.drop_members(route.state_list_key, set(leaving["member_key"]))
                self.warehouse.apply_batch(
                    route.destination,
                    route.state_list_key,
                    deletes=list(leaving["member_key"]),
                    results=_results_frame(
                        result.run_id,
                        route,
                        leaving["member_key"],
                        leaving["customer_key"],
                        "remove",
                        SENT,
                        "must not be mailed: removed although the volume guard refused the list",
                    ),
                )
                result.sent += len(leaving)
            else:
                nothing = plan.creates.iloc[0:0]
                consent_only = replace(
                    plan, creates=nothing, updates=nothing, removes=removes, releases=releases
                )
                self._run_incremental(destination, consent_only, result)
        except ActivationError as error:
            result.failed += len(removes) + len(releases)
            result.message += f"; consent removals failed: {error}"
            log.error("%s %s consent removals failed: %s", route.source_destination, route.list_key, error)
        else:
            result.message += f"; {len(removes) + len(releases)} consent removal(s) applied all the same"
        result.requests_made = destination.requests_made - before


def sync_audiences(
    desired: pd.DataFrame,
    suppressions: pd.DataFrame,
    erasure_requests: pd.DataFrame | None = None,
    *,
    warehouse: str | Path | None = None,
    config: ActivationConfig | None = None,
    dry_run: bool = False,
    force: bool | Iterable[str] = False,
    destinations: Iterable[str] | None = None,
    run_id: str | None = None,
) -> list[SyncResult]:
    """Sync every (destination, list) in `desired`, and every list the state knows that the
    frame no longer has, so a vanished audience meets the volume guard instead of being skipped.
    A caller that syncs one destination at a time passes `destinations=[...]` to limit that.
    Returns one SyncResult per list; check `result.ok`."""
    with SyncEngine(warehouse, config) as engine:
        return engine.sync(
            desired,
            suppressions,
            erasure_requests,
            dry_run=dry_run,
            force=force,
            destinations=destinations,
            run_id=run_id,
        )


def plan_sync(
    desired: pd.DataFrame,
    suppressions: pd.DataFrame,
    erasure_requests: pd.DataFrame | None = None,
    **kwargs,
) -> list[SyncResult]:
    """A dry run: the plan per list (creates, updates, removes), nothing sent, only a sync_runs row."""
    return sync_audiences(desired, suppressions, erasure_requests, dry_run=True, **kwargs)
