"""The diff-sync engine: push only what changed since the last acknowledged sync.

Per (destination, list) it compares the consented audience with `activation.sync_state` and sends
creates (upsert + add to our list), updates (upsert only) and removes (membership we created
ourselves). This module runs the steps in order; each rule has its own module:

* routing.py — where each audience goes (the destination registry, the file fallback);
* reconcile.py — first, ESP-wide suppression and retirement of stale file audiences;
* audience.py — per list, who may be exported (eligible) and who not (excluded, with a reason);
* plan.py — the diff against the state and the volume guard, without I/O;
* push.py — the plan carried out, batched, concurrent and crash-safe;
* runlog.py — the sync_runs and sync_results rows.

A volume guard refuses to remove more than `max_shrink_share` of a list in one run (or to empty
it) unless forced, once at least `guard_min_members` would leave; removals required by consent
(suppression, erasure) are never held back: a refused list still loses its consent removals."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from contextlib import ExitStack
from pathlib import Path

import pandas as pd

from activation.audience import SuppressionIndex, normalize_email, prepare_audience, validate_frame
from activation.config import ActivationConfig
from activation.destinations.base import Destination
from activation.errors import ActivationError, InputError
from activation.plan import SyncPlan, VolumeGuard, plan_list
from activation.push import Push
from activation.reconcile import Reconciler
from activation.routing import Route, Router, build_destination
from activation.runlog import RunLog, SyncResult, exclusions_frame, new_run_id, utcnow
from activation.state import Warehouse
from warehouse.context import engine, warehouse_path

log = logging.getLogger("activation.sync")


class SyncEngine:
    """Holds the configuration, the warehouse and one client per destination for a run. The
    activation tables are in the DuckDB file, or on AW_ENGINE=spark in the Spark catalog
    (activation/state_spark.py); a `warehouse` path is the DuckDB file's, unused on Spark."""

    def __init__(
        self,
        warehouse: str | Path | Warehouse | None = None,
        config: ActivationConfig | None = None,
        destinations: dict[str, Destination] | None = None,
    ):
        self.config = config or ActivationConfig.from_env()
        self._owns_warehouse = not isinstance(warehouse, Warehouse)
        if not self._owns_warehouse:
            self.warehouse = warehouse
        elif engine() == "spark":
            from activation.state_spark import SparkStateWarehouse

            self.warehouse = SparkStateWarehouse()
        else:
            self.warehouse = Warehouse(warehouse or warehouse_path())
        self._destinations: dict[str, Destination] = dict(destinations or {})
        self._owned: set[str] = set()
        self.guard = VolumeGuard(self.config.max_shrink_share, self.config.guard_min_members)
        self._session = ExitStack()

    def __enter__(self) -> SyncEngine:
        """The warehouse file stays open until close() (Warehouse.held)."""
        self._session.enter_context(self.warehouse.held())
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for name in list(self._owned):
            self._destinations.pop(name).close()
        self._owned.clear()
        self._session.close()
        if self._owns_warehouse:
            self.warehouse.close()

    @property
    def router(self) -> Router:
        """The routing rules: a destination given to the engine counts as configured."""
        return Router(frozenset(self._destinations) | set(self.config.configured()), self.config.unconfigured)

    def is_configured(self, name: str) -> bool:
        return self.router.is_configured(name)

    def destination(self, name: str) -> Destination:
        if name not in self._destinations:
            self._destinations[name] = build_destination(name, self.config)
            self._owned.add(name)
        return self._destinations[name]

    def sync(
        self,
        desired: pd.DataFrame,
        suppressions: pd.DataFrame | None,
        erasure_requests: pd.DataFrame | None = None,
        *,
        dry_run: bool = False,
        force: bool | Iterable[str] = False,
        destinations: Iterable[str] | None = None,
        lists: Iterable[str] | None = None,
        run_id: str | None = None,
    ) -> list[SyncResult]:
        validate_frame(desired)
        if suppressions is None:
            raise InputError("a suppression frame is required (an empty one is fine)")
        run_id = run_id or new_run_id()
        router = self.router
        state_lists = self.warehouse.state_lists()
        scope = router.scope(destinations, set(desired["destination"].astype(str).unique()), state_lists)
        erased = self.warehouse.erased_addresses(normalize_email(desired["email"]))
        suppression = SuppressionIndex(suppressions, erasure_requests, erased)
        only = None if lists is None else set(lists)
        pairs = desired[["destination", "list_key"]].astype(str).drop_duplicates()
        audience_lists = zip(pairs["destination"], pairs["list_key"], strict=True)
        routes = [
            (source, list_key, router.route(source, list_key))
            for source, list_key in router.lists(audience_lists, scope, state_lists, only=only)
        ]
        reconciled = Reconciler(self.warehouse, router, self.destination, run_id, dry_run).run(
            scope, state_lists, suppression
        )
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
        """One list's plan: its rows prepared, compared with its sync state."""
        prepared = prepare_audience(rows, route.source_destination, route.list_key, suppression)
        state, known_list = self.warehouse.list_context(route.destination, route.state_list_key)
        return plan_list(route, prepared, state, suppression, self.guard, force=force, known_list=known_list)

    def _sync_list(
        self,
        route: Route,
        rows: pd.DataFrame,
        suppression: SuppressionIndex,
        run_id: str,
        dry_run: bool,
        force: bool,
    ) -> SyncResult:
        started, clock = utcnow(), time.monotonic()
        plan = self.plan(route, rows, suppression, force)
        excluded = plan.prepared.excluded
        result = SyncResult(
            run_id,
            route.source_destination,
            route.destination,
            route.list_key,
            "running",
            dry_run,
            plan.counts(),
            excluded_reasons={str(k): int(v) for k, v in excluded["reason"].value_counts().items()},
            plan=plan,
            message=plan.guard_message,
        )
        run = RunLog(self.warehouse, result, route, started=started, forced=force, clock=clock)
        if route.destination != route.source_destination:
            result.note(f"{route.source_destination} not configured: written to the file destination")
        if dry_run:
            result.status = "dry_run"
            run.finish()
            return result
        if plan.refused:
            result.status = "refused"
            self.warehouse.record_results(exclusions_frame(run_id, route, excluded))
            log.warning("%s %s refused: %s", route.source_destination, route.list_key, plan.guard_message)
            destination = self.destination(route.destination)
            before = destination.requests_made
            Push(self.warehouse, destination, plan, result).consent_removals()
            result.requests_made = destination.requests_made - before
            run.finish()
            return result
        destination = self.destination(route.destination)
        before = destination.requests_made
        self.warehouse.start_list(
            run.row(), exclusions_frame(run_id, route, excluded), plan.prepared.assignments, run_id
        )
        try:
            run.handle = Push(self.warehouse, destination, plan, result).run()
        except ActivationError as error:
            result.status = "failed"
            result.note(str(error))
            log.error("%s %s failed: %s", route.source_destination, route.list_key, error)
        except BaseException as error:
            result.status = "failed"
            result.note(f"crashed: {type(error).__name__}")
            run.finish()
            raise
        else:
            result.settle()
        result.requests_made = destination.requests_made - before
        run.finish()
        log.info("%s", result.line())
        return result


def sync_audiences(
    desired: pd.DataFrame,
    suppressions: pd.DataFrame,
    erasure_requests: pd.DataFrame | None = None,
    *,
    warehouse: str | Path | None = None,
    config: ActivationConfig | None = None,
    **options,
) -> list[SyncResult]:
    """Sync every (destination, list) in `desired`, and every list the state knows that the
    frame no longer has, so a vanished audience meets the volume guard instead of being skipped.
    A caller that syncs one destination at a time passes `destinations=[...]` to limit that, and
    one that syncs some lists only (the triggered audiences) `lists=[...]`: the other lists are
    left as they are. ESP-wide suppression runs either way. Returns one SyncResult per list;
    check `result.ok`. `options` are SyncEngine.sync's (dry_run, force, destinations, lists,
    run_id), whose signature is their one home."""
    with SyncEngine(warehouse, config) as engine:
        return engine.sync(desired, suppressions, erasure_requests, **options)


def plan_sync(
    desired: pd.DataFrame,
    suppressions: pd.DataFrame,
    erasure_requests: pd.DataFrame | None = None,
    **kwargs,
) -> list[SyncResult]:
    """A dry run: the plan per list (creates, updates, removes), nothing sent, only a sync_runs row."""
    return sync_audiences(desired, suppressions, erasure_requests, dry_run=True, **kwargs)
