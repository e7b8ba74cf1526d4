"""The project's jobs as reconstructable targets: Dagster's multiprocess executor rebuilds the job in
each step's process from these module-level functions, as `dagster dev`'s run worker rebuilds it
from the code location."""

import dagster as dg


def full_pipeline() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def("full_pipeline")


def daily_refresh() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def("daily_refresh")


def triggered_audiences() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs.resolve_job_def("triggered_audiences")
