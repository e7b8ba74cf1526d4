"""A run started with an as_of (`make run`, `orchestration.run_pipeline --job`) keeps what its job's
own config sets: Dagster replaces an op's config given at launch, it does not merge it."""

from __future__ import annotations

from orchestration.definitions import defs
from orchestration.run_config import as_of_run_config

AS_OF = "2026-06-30T00:00:00"


def test_the_triggered_job_keeps_its_own_step_config_next_to_the_as_of():
    job = defs.resolve_job_def("triggered_audiences")
    ops = as_of_run_config(job, AS_OF)["ops"]
    assert ops["dbt_core"]["config"] == {"tests_of_rebuilt_models_only": True, "as_of": AS_OF}
    assert ops["dbt_after_ml"]["config"] == {"as_of": AS_OF}
    assert ops["activation__export_mailchimp"]["config"] == {"only_triggered": True}
    assert job.run_config["ops"]["dbt_core"]["config"] == {"tests_of_rebuilt_models_only": True}


def test_a_job_without_config_of_its_own_gets_the_as_of_in_every_step_that_takes_it():
    job = defs.resolve_job_def("full_pipeline")
    ops = as_of_run_config(job, AS_OF)["ops"]
    assert ops["dbt_core"] == {"config": {"as_of": AS_OF}}
    assert {"dbt_core", "dbt_after_ml", "score_customers"} <= set(ops)
    assert all(op == {"config": {"as_of": AS_OF}} for op in ops.values())
