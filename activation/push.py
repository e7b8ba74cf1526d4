"""Carrying out one list's plan at its destination, crash-safe:

1. members about to be added are written to the state as *pending* before any add is sent;
2. state is written per acknowledged batch, in the same transaction as that batch's results;
3. every ESP call is idempotent (upsert by e-mail, set-like list membership).

A re-run after a crash therefore re-sends what was not acknowledged, and a pending member who is
no longer wanted is removed like one of ours. Batches go out in parallel up to the destination's
concurrency; after a few all-failed batches in a row the list stops early. A snapshot destination
(the file) is rewritten whole and its state swapped in one transaction."""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import pandas as pd

from activation.audience import member_fields
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
from activation.destinations.esp import all_failed
from activation.errors import ActivationError
from activation.plan import SyncPlan, consent_only
from activation.runlog import SyncResult, results_frame, utcnow
from activation.state import Warehouse
from activation.state_tables import STATE_COLUMNS

log = logging.getLogger("activation.push")

MAX_CONSECUTIVE_FAILED_BATCHES = 3
# sync_state columns a batch writes (the destination and list key come with the batch)
BATCH_STATE_COLUMNS = [c for c in STATE_COLUMNS if c not in ("destination", "list_key")]


def state_member(row) -> StateMember:
    """A state row (itertuples) as the member a destination removes or suppresses."""
    created = getattr(row, "created_by_us", None)
    return StateMember(
        member_key=row.member_key,
        customer_key=row.customer_key if isinstance(row.customer_key, str) else None,
        esp_record_id=row.esp_record_id if isinstance(row.esp_record_id, str) else None,
        created_by_us=bool(created) if pd.notna(created) else False,
        pending=bool(getattr(row, "pending", False)),
    )


class Push:
    """One list's plan sent to its destination, the outcome counted into `result`."""

    def __init__(self, warehouse: Warehouse, destination: Destination, plan: SyncPlan, result: SyncResult):
        self.warehouse = warehouse
        self.destination = destination
        self.plan = plan
        self.route = plan.route
        self.result = result

    def run(self) -> ListHandle | None:
        return self._snapshot() if self.destination.snapshot else self._incremental()

    def consent_removals(self) -> None:
        """A list the volume guard refused still loses the members who must not be mailed, and
        nothing else: consent removals are never held back by the guard."""
        plan = consent_only(self.plan)
        if plan.removes.empty and plan.releases.empty:
            return
        route, result = self.route, self.result
        leaving = pd.concat([plan.removes, plan.releases], ignore_index=True)
        try:
            if self.destination.snapshot:
                self.destination.drop_members(route.state_list_key, set(leaving["member_key"]))
                self.warehouse.apply_batch(
                    route.destination,
                    route.state_list_key,
                    deletes=list(leaving["member_key"]),
                    results=self._results(
                        leaving,
                        "remove",
                        SENT,
                        "must not be mailed: removed although the volume guard refused the list",
                    ),
                )
                result.sent += len(leaving)
            else:
                Push(self.warehouse, self.destination, plan, result)._incremental()
        except ActivationError as error:
            result.failed += len(leaving)
            result.note(f"consent removals failed: {error}")
            log.error("%s %s consent removals failed: %s", route.source_destination, route.list_key, error)
        else:
            result.note(f"{len(leaving)} consent removal(s) applied all the same")

    def _results(self, rows: pd.DataFrame, action: str, statuses, reasons) -> pd.DataFrame:
        return results_frame(
            self.result.run_id,
            self.route,
            rows["member_key"],
            rows["customer_key"],
            action,
            statuses,
            reasons,
        )

    # snapshot destinations -------------------------------------------------------------------------

    def _snapshot(self) -> ListHandle:
        plan, route, destination = self.plan, self.route, self.destination
        eligible = plan.prepared.eligible
        columns = ["member_key", "customer_key", *plan.prepared.fields]
        frame = eligible[columns].rename(columns={"member_key": "email"}).sort_values("email", kind="stable")
        handle = destination.ensure_list(route.state_list_key, None)
        if plan.is_empty and all(p.exists() for p in destination.paths(route.state_list_key).values()):
            return handle
        destination.write_snapshot(route.state_list_key, frame.reset_index(drop=True))
        state = pd.DataFrame(
            {
                "member_key": eligible["member_key"],
                "customer_key": eligible["customer_key"],
                "esp_record_id": None,
                "payload_hash": eligible["payload_hash"],
                "synced_at": utcnow(),
                "created_by_us": True,
                "pending": False,
                "run_id": self.result.run_id,
            }
        )
        results = pd.concat(
            [
                self._results(plan.creates, "create", SENT, None),
                self._results(plan.updates, "update", SENT, None),
                self._results(pd.concat([plan.removes, plan.releases]), "remove", SENT, None),
            ],
            ignore_index=True,
        )
        self.warehouse.replace_list_state(route.destination, route.state_list_key, state, results)
        self.result.sent = len(results)
        return handle

    # incremental destinations ----------------------------------------------------------------------

    def _incremental(self) -> ListHandle | None:
        plan, route, wh = self.plan, self.route, self.warehouse
        if plan.is_empty:
            return None
        handle = None
        if not plan.creates.empty or not plan.removes.empty:
            known = plan.known_list
            handle = self.destination.ensure_list(route.list_key, known[0] if known else None)
            if not known:
                wh.save_list_id(
                    route.destination,
                    route.state_list_key,
                    handle.esp_list_id,
                    route.list_key,
                    handle.created_now,
                )
        if not plan.releases.empty:
            wh.apply_batch(
                route.destination,
                route.state_list_key,
                deletes=list(plan.releases["member_key"]),
                results=self._results(
                    plan.releases, "release", SENT, "membership not created by us: left in place"
                ),
            )
            self.result.sent += len(plan.releases)
        if not plan.removes.empty:
            self._remove(handle)
        fresh = plan.creates[plan.creates["_merge"] != "both"]
        if not fresh.empty:
            wh.insert_pending(route.destination, route.state_list_key, fresh, self.result.run_id)
        self._push(handle)
        return handle

    def _remove(self, handle: ListHandle) -> None:
        route, removes = self.route, self.plan.removes
        members = [state_member(r) for r in removes.itertuples(index=False)]
        customers = dict(zip(removes["member_key"], removes["customer_key"], strict=True))
        size = max(1, self.destination.batch_size)
        for start in range(0, len(members), size):
            group = members[start : start + size]
            keys = [m.member_key for m in group]
            try:
                outcomes = self.destination.remove(handle, group)
            except ActivationError as error:
                outcomes = all_failed(keys, str(error))
            found = [outcomes.get(k, Outcome(FAILED, "no outcome")) for k in keys]
            statuses = [o.status for o in found]
            self.warehouse.apply_batch(
                route.destination,
                route.state_list_key,
                deletes=[k for k, s in zip(keys, statuses, strict=True) if s == SENT],
                results=results_frame(
                    self.result.run_id,
                    route,
                    keys,
                    [customers[k] for k in keys],
                    "remove",
                    statuses,
                    [o.reason for o in found],
                ),
            )
            self.result.count(statuses)

    def _push(self, handle: ListHandle | None) -> None:
        plan, destination = self.plan, self.destination
        work = pd.concat(
            [plan.creates.assign(sync_action="create"), plan.updates.assign(sync_action="update")]
        )
        if work.empty:
            return
        size = max(1, destination.batch_size)
        queue = iter([work.iloc[start : start + size] for start in range(0, len(work), size)])
        consecutive_failures = 0
        aborted = False
        with ThreadPoolExecutor(max_workers=max(1, destination.max_concurrency)) as pool:
            pending: dict[Future, pd.DataFrame] = {}
            # enough batches in flight that the workers keep sending while this thread writes
            window = max(8, max(1, destination.max_concurrency) * 4)

            def submit_next() -> bool:
                batch = next(queue, None)
                if batch is None:
                    return False
                pending[pool.submit(self._push_batch, handle, batch)] = batch
                return True

            for _ in range(window):
                if not submit_next():
                    break
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                acknowledged = [(pending.pop(future), future.result()) for future in done]
                self._record_push(acknowledged)
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
                self._skip(list(queue))

    def _skip(self, rest: list[pd.DataFrame]) -> None:
        """Record the batches never sent because the destination kept failing."""
        if rest:
            skipped = pd.concat(rest)
            self.warehouse.record_results(
                self._results(
                    skipped, "create", FAILED, "not attempted: the destination kept failing"
                ).assign(action=list(skipped["sync_action"]))
            )
            self.result.failed += len(skipped)
        self.result.note(f"stopped after {MAX_CONSECUTIVE_FAILED_BATCHES} failed batches in a row")

    def _push_batch(self, handle, batch: pd.DataFrame) -> dict[str, Outcome]:
        fields = self.plan.prepared.fields
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
        everyone = [m.member_key for m in [*creates, *updates]]
        try:
            outcomes = self.destination.push(handle, creates, updates)
        except ActivationError as error:
            return all_failed(everyone, str(error))
        for key in everyone:
            outcomes.setdefault(key, Outcome(FAILED, "no outcome from the destination"))
        return outcomes

    def _record_push(self, acknowledged: list[tuple[pd.DataFrame, dict[str, Outcome]]]) -> None:
        """Write every batch acknowledged since the last write in one transaction: usually one
        batch, several when acknowledgements arrive faster than a warehouse write takes."""
        now = utcnow()
        run_id = self.result.run_id
        upserts, deletes, statuses, reasons = [], [], [], []
        batch = pd.concat([b for b, _ in acknowledged])
        outcomes = {k: v for _, o in acknowledged for k, v in o.items()}
        for row in batch.itertuples(index=False):
            outcome = outcomes[row.member_key]
            statuses.append(outcome.status)
            reasons.append(outcome.reason)
            was_pending = bool(row.pending) if pd.notna(row.pending) else False
            if outcome.status == SENT:
                prior = bool(row.created_by_us) if pd.notna(row.created_by_us) else False
                ours = prior
                if row.sync_action == "create":
                    ours = prior or bool(outcome.created_by_us if outcome.created_by_us is not None else True)
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
                        run_id,
                    )
                )
            elif outcome.status == REJECTED and row.sync_action == "create" and not was_pending:
                deletes.append(row.member_key)
        results = self._results(batch, "create", statuses, reasons)
        results["action"] = list(batch["sync_action"])
        self.warehouse.apply_batch(
            self.route.destination,
            self.route.state_list_key,
            upserts=pd.DataFrame(upserts, columns=BATCH_STATE_COLUMNS),
            deletes=deletes,
            results=results,
        )
        self.result.count(statuses)
