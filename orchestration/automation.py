"""Jobs, schedules and the file-arrival sensor."""

import dagster as dg

from landing.files import landing_fingerprint
from orchestration.assets.backtest import BACKTEST_GROUP, BACKTEST_KEY
from orchestration.resources import WarehouseResource
from warehouse import context as run_context
from warehouse.publish import published_landing_fingerprint

TRAINING_GROUP = "ml_training"
# A backtest compares scores with the future: it belongs in a backtest warehouse, never in a run
# of the working one.
EVERY_RUN = dg.AssetSelection.all() - dg.AssetSelection.groups(BACKTEST_GROUP)

full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=EVERY_RUN,
    description="Everything: landing, staging, marts, segments, ML training and scoring, audiences, "
    "exports, published snapshot. What `make run` executes.",
)
daily_refresh = dg.define_asset_job(
    "daily_refresh",
    selection=EVERY_RUN - dg.AssetSelection.groups(TRAINING_GROUP),
    description="Every asset except model training: scores with the current champions.",
)
ml_training = dg.define_asset_job(
    "ml_training",
    selection=dg.AssetSelection.groups(TRAINING_GROUP),
    description="Train challengers and promote them only when they are not worse than the champions.",
)

# Everything the backtest asset needs, and the reconciliation that proves every landed row was
# accounted for; no e-mail export, no published snapshot, no membership history. Run it in a
# warehouse of its own (`make backtest` sets AW_WAREHOUSE_PATH).
backtest = dg.define_asset_job(
    "backtest",
    selection=(
        dg.AssetSelection.assets(BACKTEST_KEY).upstream() | dg.AssetSelection.groups("quarantine").upstream()
    ).required_multi_asset_neighbors(),
    description="Build the warehouse at a past as_of from the full landing data, train and score "
    "there, and compare the scores with what happened after (ml.backtest_results, a markdown report).",
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
    job=daily_refresh,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Starts daily_refresh when files under the landing folder are added, removed or "
    "rewritten (names, sizes and modification times are compared each minute) and the last "
    "successful run did not already process exactly these files.",
)
def landing_files_arrived(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    fingerprint = landing_fingerprint(warehouse.landing)
    if fingerprint in ("absent", context.cursor):
        return dg.SkipReason(f"no change under {warehouse.landing}")
    context.update_cursor(fingerprint)
    processed = published_landing_fingerprint(run_context.published_path(warehouse.path))
    if fingerprint == processed:
        return dg.SkipReason(
            f"the files under {warehouse.landing} are the ones the last successful run processed"
        )
    return dg.RunRequest(run_key=f"landing-{fingerprint}")
