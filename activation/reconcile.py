"""Bringing in line, before the lists sync, what earlier runs wrote outside this run's lists.

* ESP-wide suppression: taking someone out of our list does not stop a campaign sent to the whole
  audience, so every address our state holds at an ESP (any list, pending or not) whose person
  must not be mailed is suppressed at the ESP itself, once per address. Crash-safe like the lists:
  a pending `*` row per address is written first and acknowledged per batch with its results, so a
  re-run sends only what was not acknowledged and a later run nothing. Only addresses in our state
  are ever sent, and each client sends only those the ESP holds.
* File retirement: file audiences written while an ESP had no keys are deleted once it has them
  (or once its audiences are skipped), with a result per member saying why.

Both follow the scope: the file fallback of an ESP's lists belongs to that ESP's export."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from activation.audience import SuppressionIndex
from activation.config import ESP_NAMES
from activation.destinations.base import FAILED, SENT, Destination, Outcome
from activation.destinations.esp import all_failed
from activation.errors import ActivationError
from activation.plan import suppression_plan
from activation.push import state_member
from activation.routing import ESP_WIDE, Route, Router
from activation.runlog import RunLog, SyncResult, results_frame, utcnow
from activation.state import Warehouse

log = logging.getLogger("activation.reconcile")


class Reconciler:
    """The reconciliation of one run."""

    def __init__(
        self,
        warehouse: Warehouse,
        router: Router,
        destination: Callable[[str], Destination],
        run_id: str,
        dry_run: bool,
    ):
        self.warehouse = warehouse
        self.router = router
        self.destination = destination
        self.run_id = run_id
        self.dry_run = dry_run

    def run(
        self, scope: set[str], state_lists: pd.DataFrame, suppression: SuppressionIndex
    ) -> list[SyncResult]:
        results = []
        for name in ESP_NAMES:
            if name not in scope:
                continue
            if self.router.is_configured(name):
                result = self.suppress_at_esp(name, suppression)
                if result is not None:
                    results.append(result)
            elif (state_lists["destination"] == name).any():
                log.warning(
                    "%s is not configured: the lists written to it earlier stay as they are until it is", name
                )
        for source, list_key in self.router.stale_file_lists(scope, state_lists):
            results.append(self.retire_file_list(source, list_key))
        return results

    def suppress_at_esp(self, name: str, suppression: SuppressionIndex) -> SyncResult | None:
        """Suppress at the ESP every address of our state there that must not be mailed; forget
        the suppression rows of people no longer suppressed (the ESP keeps its status)."""
        state = self.warehouse.esp_state(name, suppression.by_email, suppression.by_customer, ESP_WIDE)
        if state.empty:
            return None
        wanted, stale = suppression_plan(state, suppression)
        if wanted.empty and stale.empty:
            return None
        route = Route(name, ESP_WIDE, name, ESP_WIDE)
        result = SyncResult(
            self.run_id,
            name,
            name,
            ESP_WIDE,
            "running",
            self.dry_run,
            {"rows_in": len(wanted), "suppressions": len(wanted), "releases": len(stale)},
            message=f"ESP-wide suppression of {len(wanted)} address(es) that must not be mailed",
        )
        run = RunLog(self.warehouse, result, route)
        if self.dry_run:
            result.status = "dry_run"
            run.finish()
            return result
        destination = self.destination(name)
        before = destination.requests_made
        run.write()
        if not stale.empty:
            self.warehouse.apply_batch(
                name,
                ESP_WIDE,
                deletes=list(stale["member_key"]),
                results=results_frame(
                    self.run_id,
                    route,
                    stale["member_key"],
                    stale["customer_key"],
                    "release",
                    SENT,
                    "no longer suppressed here: the ESP keeps the status it has",
                ),
            )
        if not wanted.empty:
            self.warehouse.insert_pending(name, ESP_WIDE, wanted, self.run_id)
        try:
            size = max(1, destination.suppress_batch_size)
            for start in range(0, len(wanted), size):
                self._suppress_batch(destination, route, wanted.iloc[start : start + size], result)
        except BaseException as error:
            result.status = "failed"
            result.message += f"; crashed: {type(error).__name__}"
            run.finish()
            raise
        if result.failed == 0 and result.rejected == 0:
            result.status = "success"
        else:
            result.status = "partial" if result.sent else "failed"
            log.error(
                "%s: %d suppression(s) not done, retried next run", name, result.failed + result.rejected
            )
        result.requests_made = destination.requests_made - before
        run.finish()
        log.info("%s", result.line())
        return result

    def _suppress_batch(
        self, destination: Destination, route: Route, batch: pd.DataFrame, result: SyncResult
    ) -> None:
        """Send one batch and record it in one transaction: acknowledged addresses become done
        suppression rows, the others stay pending for the next run."""
        members = [state_member(row) for row in batch.itertuples(index=False)]
        keys = list(batch["member_key"])
        try:
            outcomes = destination.suppress(members)
        except ActivationError as error:
            outcomes = all_failed(keys, str(error))
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
            results=results_frame(
                result.run_id, route, keys, batch["customer_key"], "suppress", statuses, reasons
            ),
        )
        result.count(statuses)

    def retire_file_list(self, source: str, list_key: str) -> SyncResult:
        """Delete a stale file audience and forget its state, with a result row per member saying
        why: left in place it would keep people who have since become non-contactable. It is a
        change of route, not a shrink, so the volume guard does not apply. Files go first, so a
        crash in between leaves state that the next run retires again."""
        state_key = f"{source}/{list_key}"
        route = Route(source, list_key, "file", state_key)
        state = self.warehouse.list_context("file", state_key)[0].to_pandas()
        if self.router.is_configured(source):
            why = f"{source} is configured and syncs this audience itself: file fallback retired"
        else:
            why = f"{source} is not exported (AW_ACTIVATION_UNCONFIGURED=skip): file fallback retired"
        result = SyncResult(
            self.run_id,
            source,
            "file",
            list_key,
            "running",
            self.dry_run,
            {"rows_in": 0, "removes": len(state)},
            message=why,
        )
        run = RunLog(self.warehouse, result, route)
        if not self.dry_run:
            removed = self.destination("file").retire(state_key)
            self.warehouse.replace_list_state(
                "file",
                state_key,
                pd.DataFrame(),
                results_frame(
                    self.run_id, route, state["member_key"], state["customer_key"], "remove", SENT, why
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
        result.status = "dry_run" if self.dry_run else "success"
        run.finish()
        return result
