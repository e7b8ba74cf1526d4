"""Activation: erasures propagated to every ESP and their residue purged, then one export per
destination, each syncing only what changed (activation/). The audience carries two blocking checks
— nobody without consent, and no list collapsing beyond the volume guard — so a failing check stops
every export of the run.

An ESP's export owns everything written for that ESP: its lists, the suppression of its members
who must not be mailed, and the file fallback written while it had no keys (retired once it has
them). The file export owns only the lists whose destination is `file`, so the exports never touch
each other's output and no order of them leaves a stale file."""

import dagster as dg
import pandas as pd

from activation import (
    DESTINATION_NAMES,
    ActivationConfig,
    format_results,
    plan_sync,
    propagate_erasures,
    purge_erased_residue,
    sync_audiences,
)
from activation.errors import redact
from activation.experiment_stats import BOOTSTRAP_RESAMPLES
from activation.experiments import MIN_CONVERTERS_PER_ARM, analyze_campaigns
from orchestration.resources import DUCKDB_POOL, AsOfConfig, WarehouseResource, resolve_as_of

AUDIENCE = dg.AssetKey(["restricted", "audience_export"])
SUPPRESSIONS = dg.AssetKey(["restricted", "suppressed_addresses"])
ERASURE_TARGETS = dg.AssetKey(["restricted", "erasure_targets"])
ERASURE_TOMBSTONES = dg.AssetKey(["privacy", "erasure_tombstones"])
ERASURE_PROPAGATION = dg.AssetKey(["activation", "erasure_propagation"])
PURCHASES = dg.AssetKey(["audiences", "audience_purchases"])
CAMPAIGN_ARMS = dg.AssetKey(["audiences", "audience_campaign_arms"])


class ExportConfig(dg.Config):
    """dry_run: plan and log, send nothing. force: let lists shrink past the volume guard.
    only_triggered: sync only the lists of segments refreshed between daily runs (marts.segments,
    refresh = 'triggered'), leaving the others as the last daily run synced them."""

    dry_run: bool = False
    force: bool = False
    only_triggered: bool = False


class VolumeGuardConfig(dg.Config):
    """force: pass the check even when a list would shrink past AW_ACTIVATION_MAX_SHRINK.
    only_triggered: check only the lists the triggered_audiences job syncs (a daily list waiting
    to be forced must not stop them)."""

    force: bool = False
    only_triggered: bool = False


class HoldoutConfig(AsOfConfig):
    """window_days: days after assignment in which a purchase counts as the campaign's outcome.
    min_converters: an arm with fewer converters is flagged (its intervals under-cover).
    bootstrap_resamples: resamples of the seeded bootstrap interval of spend (0: analytic only);
    bootstrap_method: percentile or bca."""

    window_days: int = 30
    min_converters: int = MIN_CONVERTERS_PER_ARM
    bootstrap_resamples: int = BOOTSTRAP_RESAMPLES
    bootstrap_method: str = "percentile"


def _audience(
    warehouse: WarehouseResource, destination: str | None = None, lists: list[str] | None = None
) -> pd.DataFrame:
    """The audience without its as_of (dropped here: `select * exclude` is DuckDB's, not Spark's),
    of one destination and of some lists when given: a triggered run syncs a few small lists, and
    reading every daily list's members too cost most of its exports at 100k contacts."""
    conditions, parameters = [], []
    if destination:
        conditions.append("destination = ?")
        parameters.append(destination)
    if lists is not None:
        conditions.append(f"list_key in ({', '.join('?' for _ in lists)})" if lists else "1 = 0")
        parameters.extend(lists)
    where = f"where {' and '.join(conditions)}" if conditions else ""
    audience = warehouse.frame(f"select * from restricted.audience_export {where}", parameters or None)
    return audience.drop(columns=["as_of"])


def _lists(warehouse: WarehouseResource, only_triggered: bool) -> list[str] | None:
    """None (every list), or the lists of the segments SQL marks as refreshed between daily runs."""
    if not only_triggered:
        return None
    catalog = warehouse.frame("select distinct target_list from marts.segments where refresh = 'triggered'")
    return sorted(catalog["target_list"])


def _suppressions(warehouse: WarehouseResource) -> pd.DataFrame:
    return warehouse.frame("select email, customer_key, reason from restricted.suppressed_addresses")


# The exports and the volume guard pass no erasure frame: the sync engine matches every member of
# the audience and of its sync state against the tombstones itself (Warehouse.erased_addresses),
# which is every address a sync can add or keep. restricted.erasure_targets also reads every
# landing file (about 35 s at 100k contacts, once per export): only erasure_propagation needs that,
# for the addresses an ESP may hold that we never synced.
NO_ERASURE_FRAME = None


def _erasures(warehouse: WarehouseResource) -> pd.DataFrame:
    """Addresses of erased people an ESP may still hold (a view: plain text only in memory)."""
    return warehouse.frame("select email, email_hash from restricted.erasure_targets")


# Two equality joins, never one OR join: an OR join is planned as a nested loop (hours at 1M).
CONSENT_VIOLATIONS_SQL = """
with members as (
    select destination, list_key, customer_key, email from restricted.audience_export
),
matches as (
    select members.destination, members.list_key, suppressions.reason, members.customer_key
    from members
    inner join restricted.suppressed_addresses as suppressions
        on members.email = suppressions.email
    union
    select members.destination, members.list_key, suppressions.reason, members.customer_key
    from members
    inner join restricted.suppressed_addresses as suppressions
        on members.customer_key = suppressions.customer_key
)
select destination, list_key, reason, count(distinct customer_key) as members
from matches
group by destination, list_key, reason
order by destination, list_key, reason
"""


@dg.asset_check(
    asset=AUDIENCE,
    blocking=True,
    additional_deps=[SUPPRESSIONS],
    pool=DUCKDB_POOL,
    description="No audience member is suppressed (no consent, unsubscribed, bounced, complained, "
    "invalid e-mail, erasure or opt-out), by e-mail or by customer.",
)
def audience_respects_consent(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    violations = warehouse.frame(CONSENT_VIOLATIONS_SQL)
    return dg.AssetCheckResult(
        passed=violations.empty,
        metadata={
            "violations": int(violations["members"].sum()) if not violations.empty else 0,
            "by_list": dg.MetadataValue.md(
                violations.to_markdown(index=False) if not violations.empty else "none"
            ),
        },
    )


@dg.asset_check(
    asset=AUDIENCE,
    blocking=True,
    additional_deps=[SUPPRESSIONS, ERASURE_TOMBSTONES],
    pool=DUCKDB_POOL,
    description="A dry run of every list: none would shrink beyond AW_ACTIVATION_MAX_SHRINK (or be "
    "emptied) for reasons other than consent, unless forced.",
)
def audience_volume_guard(warehouse: WarehouseResource, config: VolumeGuardConfig) -> dg.AssetCheckResult:
    with warehouse.session():
        lists = _lists(warehouse, config.only_triggered)
        results = plan_sync(
            _audience(warehouse, lists=lists),
            _suppressions(warehouse),
            NO_ERASURE_FRAME,
            warehouse=warehouse.path,
            config=ActivationConfig.from_env(),
            lists=lists,
        )
    refused = [r for r in results if r.status == "refused"]
    return dg.AssetCheckResult(
        passed=not refused or config.force,
        metadata={
            "lists": len(results),
            "refused": len(refused),
            "forced": config.force,
            "only_triggered": config.only_triggered,
            "plan": dg.MetadataValue.md("```\n" + format_results(results) + "\n```"),
        },
    )


@dg.asset(
    key=ERASURE_PROPAGATION,
    deps=[ERASURE_TARGETS],
    group_name="activation",
    pool=DUCKDB_POOL,
    kinds={"python"},
    description="Every erased person's addresses sent to each configured ESP's deletion API and "
    "logged by hash (activation.erasure_log); then every trace they left in tables dbt does not "
    "rebuild is deleted and the warehouse file rewritten (activation.erasure_purges).",
)
def erasure_propagation(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    with warehouse.session():
        log = propagate_erasures(
            _erasures(warehouse),
            warehouse=warehouse.path,
            config=ActivationConfig.from_env(),
            run_id=context.run.run_id,
        )
    purge = purge_erased_residue(warehouse.path, run_id=context.run.run_id)
    by_status = log["status"].value_counts().to_dict() if not log.empty else {}
    return dg.MaterializeResult(
        metadata={
            "deletions_sent": len(log),
            **{f"status_{k}": int(v) for k, v in by_status.items()},
            "tombstones": purge.tombstones,
            "residue_rows_deleted": purge.total_deleted,
            "rejected_lines_blanked": purge.lines_blanked,
            "messages_scrubbed": purge.texts_scrubbed,
            "warehouse_compacted": purge.compacted,
            "sweep_seconds": purge.sweep_seconds,
            "compact_seconds": purge.compact_seconds,
            "sweep": purge.skipped or "ran",
        }
    )


def _export_asset(destination: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"export_{destination}",
        key_prefix=["activation"],
        deps=[AUDIENCE, SUPPRESSIONS, ERASURE_TOMBSTONES, ERASURE_PROPAGATION],
        group_name="activation",
        pool=DUCKDB_POOL,
        kinds={"python", destination},
        description=f"Diff sync of the {destination} lists of restricted.audience_export: adds, changed "
        "fields and removes of our own members only; "
        + (
            "CSV and Parquet files (an ESP's fallback files belong to that ESP's export)."
            if destination == "file"
            else "members who must not be mailed are also suppressed at the ESP itself; files when the "
            "ESP has no credentials, deleted once it has them."
        ),
    )
    def export(context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: ExportConfig):
        settings = ActivationConfig.from_env()
        with warehouse.session():
            lists = _lists(warehouse, config.only_triggered)
            if lists is not None:
                context.log.info("only the triggered lists: %s", ", ".join(lists) or "none")
            results = sync_audiences(
                _audience(warehouse, destination, lists),
                _suppressions(warehouse),
                NO_ERASURE_FRAME,
                warehouse=warehouse.path,
                config=settings,
                dry_run=config.dry_run,
                force=config.force,
                destinations=[destination],
                lists=lists,
                run_id=context.run.run_id,
            )
        # messages carry ESP texts, redacted where they were read; this guards the metadata too
        summary = redact(format_results(results), settings.secrets())
        context.log.info("%s\n%s", destination, summary)
        metadata = {
            "lists": len(results),
            "creates": sum(r.counts.get("creates", 0) for r in results),
            "updates": sum(r.counts.get("updates", 0) for r in results),
            "removes": sum(r.counts.get("removes", 0) for r in results),
            "excluded": sum(r.counts.get("excluded", 0) for r in results),
            "sent": sum(r.sent for r in results),
            "rejected": sum(r.rejected for r in results),
            "failed": sum(r.failed for r in results),
            "requests_made": sum(r.requests_made for r in results),
            "duration_seconds": round(sum(r.duration_seconds for r in results), 2),
            "dry_run": config.dry_run,
            "only_triggered": config.only_triggered,
            "results": dg.MetadataValue.md("```\n" + summary + "\n```"),
        }
        if any(r.status in ("failed", "refused") for r in results):
            raise dg.Failure(
                description=f"{destination} sync did not complete:\n{summary}", metadata=metadata
            )
        return dg.MaterializeResult(metadata=metadata)

    return export


export_assets = [_export_asset(destination) for destination in DESTINATION_NAMES]


@dg.asset(
    key=["activation", "holdout_analysis"],
    deps=[PURCHASES, CAMPAIGN_ARMS, *(asset.key for asset in export_assets)],
    group_name="activation",
    pool=DUCKDB_POOL,
    kinds={"python", "duckdb"},
    description="Per campaign (segment) with a holdout, each arm against control and, in a content "
    "test, against its baseline arm, on members whose outcome window has closed: conversion and spend "
    "lifts with intervals (log-ratio, Welch, seeded bootstrap), the conversion x spend-per-buyer "
    "decomposition, Holm-adjusted p-values, the same per content test with its segments pooled, and a "
    "warning for every arm with too few converters (activation.experiments.analyze_campaigns over "
    "audiences.audience_purchases and audiences.audience_campaign_arms).",
)
def holdout_analysis(context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: HoldoutConfig):
    as_of = pd.Timestamp(resolve_as_of(context, config))
    with warehouse.session():
        if not warehouse.table_exists("activation", "holdout_assignments"):
            return dg.MaterializeResult(metadata={"campaigns": 0, "note": "no assignments yet"})
        assignments = warehouse.frame("select * from activation.holdout_assignments")
        purchases = warehouse.frame(
            "select customer_key, ordered_at, revenue from audiences.audience_purchases"
        )
        arms = warehouse.frame("select * from audiences.audience_campaign_arms")
    results = analyze_campaigns(
        assignments,
        purchases,
        campaign_arms=arms,
        window_days=config.window_days,
        as_of=as_of,
        min_converters=config.min_converters,
        bootstrap_resamples=config.bootstrap_resamples,
        bootstrap_method=config.bootstrap_method,
    )
    tables = {
        "holdout_analysis": results.campaigns,
        "holdout_arm_results": results.arms,
        "content_test_analysis": results.content_tests,
    }
    counts = warehouse.replace_tables("activation", {k: v for k, v in tables.items() if not v.empty})
    for warning in results.warnings:
        context.log.warning(warning)
    return dg.MaterializeResult(
        metadata={
            **results.counts(),
            "min_converters": config.min_converters,
            "warnings": dg.MetadataValue.md("\n".join(f"- {w}" for w in results.warnings) or "none"),
            **counts,
        }
    )
