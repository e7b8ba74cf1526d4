"""Jobs, schedules and the file-arrival sensor."""

import json
from functools import cache, reduce
from operator import or_

import dagster as dg
from dagster_dbt import build_dbt_asset_selection

from landing.files import landing_fingerprints
from orchestration.assets.activation import audience_respects_consent, audience_volume_guard, export_assets
from orchestration.assets.backtest import BACKTEST_GROUP, BACKTEST_KEY
from orchestration.assets.dbt import dbt_core, dbt_steps
from orchestration.project import dbt_project
from orchestration.resources import DUCKDB_POOL, WarehouseResource
from warehouse import context as run_context
from warehouse.snapshot_info import published_landing_fingerprint, published_source_fingerprints

TRAINING_GROUP = "ml_training"
# Every job's runs carry their warehouse's pool in this tag; orchestration/dagster.yaml admits one
# run per value at a time. A Spark cluster has no pool: its runs may overlap.
WAREHOUSE_TAG = "audience_warehouse/warehouse"
RUN_TAGS = {WAREHOUSE_TAG: DUCKDB_POOL} if DUCKDB_POOL else {}
# A backtest compares scores with the future: it belongs in a backtest warehouse, never in a run
# of the working one.
EVERY_RUN = dg.AssetSelection.all() - dg.AssetSelection.groups(BACKTEST_GROUP)

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    tags=RUN_TAGS,
    selection=EVERY_RUN,
    description="Everything: landing, staging, marts, segments, ML training and scoring, audiences, "
    "exports, published snapshot. What `make run` executes.",
)
daily_refresh = dg.define_asset_job(
    "daily_refresh",
    tags=RUN_TAGS,
    selection=EVERY_RUN - dg.AssetSelection.groups(TRAINING_GROUP),
    description="Every asset except model training: scores with the current champions.",
)
ml_training = dg.define_asset_job(
    "ml_training",
    tags=RUN_TAGS,
    selection=dg.AssetSelection.groups(TRAINING_GROUP),
    description="Train challengers and promote them only when they are not worse than the champions.",
)

# Everything the backtest asset needs, and the reconciliation that proves every landed row was
# accounted for; no e-mail export, no published snapshot, no membership history. Run it in a
# warehouse of its own (`make backtest` sets AW_WAREHOUSE_PATH).
backtest = dg.define_asset_job(
    "backtest",
    tags=RUN_TAGS,
    selection=(
        dg.AssetSelection.assets(BACKTEST_KEY).upstream() | dg.AssetSelection.groups("quarantine").upstream()
    ).required_multi_asset_neighbors(),
    description="Build the warehouse at a past as_of from the full landing data, train and score "
    "there, and compare the scores with what happened after (ml.backtest_results, a markdown report).",
)

# The segments tagged `triggered` (cart and browse abandonment) between daily runs: the landing
# files, the dbt selector that holds what those segments, consent and their audience rows read, and
# the exports, told to sync those segments' lists only. ML, the other marts, the membership history
# and the published snapshot keep what the last daily run made.
TRIGGERED_SELECTOR = "triggered_audiences"


def _dbt_selection(selector: str) -> dg.AssetSelection:
    """The assets of a dbt selector (selectors.yml), across the dbt steps (dagster-dbt takes one
    step at a time)."""
    return reduce(or_, (build_dbt_asset_selection([step], dbt_selector=selector) for step in dbt_steps))


triggered_audiences = dg.define_asset_job(
    "triggered_audiences",
    tags=RUN_TAGS,
    selection=dg.AssetSelection.groups("landing")
    # without the dbt tests as checks: each dbt step runs the tests its own indirect selection
    # picks (dbt_core: tests_of_rebuilt_models_only below), never those the selector pulls in
    | _dbt_selection(TRIGGERED_SELECTOR).without_checks()
    | dg.AssetSelection.assets(*export_assets)
    # named: Dagster leaves out a check whose extra dependencies (the suppressions, the erasure
    # targets) are not all selected, and these two block the exports
    | dg.AssetSelection.checks(audience_respects_consent, audience_volume_guard),
    config={
        "ops": {
            **{
                step.node_def.name: {"config": {"only_triggered": True}}
                for step in (*export_assets, audience_volume_guard)
            },
            # core: no test of a rebuilt table against a kept one (the order lines against orders);
            # after_ml stays buildable, so the dbt consent test (the audience against the
            # suppressions rebuilt in core) runs
            dbt_core.node_def.name: {"config": {"tests_of_rebuilt_models_only": True}},
        }
    },
    description="Between daily runs, when only web or order files land: the cart- and browse-"
    "abandonment segments rebuilt with consent at this as_of (dbt selector triggered_audiences) and "
    "their lists synced; nothing else.",
)


@cache
def triggering_sources() -> frozenset[str]:
    """The landing sources whose new files alone start triggered_audiences: the sources marked
    `meta.triggered_audiences` in their YAML."""
    manifest = json.loads(dbt_project.manifest_path.read_text())
    return frozenset(
        source["source_name"]
        for source in manifest["sources"].values()
        if (source.get("source_meta") or {}).get("triggered_audiences")
    )


def _utc_schedule(name: str, job, cron: str, description: str) -> dg.ScheduleDefinition:
    """Cron in UTC and running from the start, so no one has to switch it on in the UI."""
    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=cron,
        execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description=description,
    )


# Scheduled and sensed runs leave as_of empty: it is then the time the run was created, the same
# for every step of the run (orchestration.resources.resolve_as_of).
daily_schedule = _utc_schedule(
    "daily_refresh_schedule", daily_refresh, "0 6 * * *", "Every day at 06:00 UTC."
)
weekly_training_schedule = _utc_schedule(
    "ml_training_schedule",
    ml_training,
    "0 3 * * 0",
    "Sundays at 03:00 UTC: retraining, separate from daily scoring.",
)


@dg.sensor(
    jobs=[daily_refresh, triggered_audiences],
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Compares the files under the landing folder each minute (names, sizes and "
    "modification times, per source) with the last tick and with what the last published run "
    "processed. When only sources marked `meta.triggered_audiences` (web events, orders) differ from "
    "what it processed, starts triggered_audiences; when any other source does (consent's among "
    "them), daily_refresh, unless the last successful run processed exactly these files.",
)
def landing_files_arrived(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    fingerprint, fingerprints = landing_fingerprints(warehouse.landing)
    if not fingerprints:
        return dg.SkipReason(f"no files under {warehouse.landing}")
    changed = _differing(fingerprints, _cursor_fingerprints(context.cursor))
    if not changed:
        return dg.SkipReason(f"no change under {warehouse.landing}")
    context.update_cursor(json.dumps(fingerprints, sort_keys=True))
    published = run_context.published_path(warehouse.path)
    if fingerprint == published_landing_fingerprint(published):
        return dg.SkipReason(
            f"the files under {warehouse.landing} are the ones the last successful run processed"
        )
    processed = published_source_fingerprints(published)
    # Every source but the triggering ones exactly as the last published run processed it: a
    # change of consent not yet through the full path (its run queued, running or failed) never
    # lets the triggered job run before it.
    unprocessed = None if processed is None else _differing(fingerprints, processed)
    job = (
        triggered_audiences
        if unprocessed is not None and unprocessed <= triggering_sources()
        else daily_refresh
    )
    prefix = "triggered" if job is triggered_audiences else "landing"
    return dg.RunRequest(
        run_key=f"{prefix}-{fingerprint}",
        job_name=job.name,
        tags={"changed_sources": ",".join(sorted(changed))},
    )


def _differing(fingerprints: dict[str, str], other: dict[str, str]) -> set[str]:
    """The sources whose files differ between two sets of per-source fingerprints."""
    return {
        source
        for source in fingerprints.keys() | other.keys()
        if fingerprints.get(source) != other.get(source)
    }


def _cursor_fingerprints(cursor: str | None) -> dict[str, str]:
    """The per-source fingerprints of the last tick that saw a change; an older cursor (one
    fingerprint for the whole folder) reads as empty: every source counts as changed."""
    try:
        previous = json.loads(cursor) if cursor else {}
    except json.JSONDecodeError:
        return {}
    return previous if isinstance(previous, dict) else {}
