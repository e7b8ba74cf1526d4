"""`python -m tests.pipeline.run_dagster_job JOB DAGSTER_HOME RUN_ID_FILE`: one run of a project job
through a persistent Dagster instance (DAGSTER_HOME's dagster.yaml, as `make dev` copies it) and the
job's own executor (the multiprocess one, never execute_in_process).

A process of its own per run, like the run worker `dagster dev` launches: the definitions, and so
the pool of the warehouse that AW_WAREHOUSE_PATH names, are loaded with that run's environment."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import dagster as dg

from orchestration.run_config import as_of_run_config
from tests.pipeline import dagster_jobs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("job", choices=["full_pipeline", "daily_refresh", "triggered_audiences"])
    parser.add_argument("dagster_home", type=Path)
    parser.add_argument("run_id_file", type=Path)
    args = parser.parse_args(argv)

    load_job = getattr(dagster_jobs, args.job)
    run_config = as_of_run_config(load_job(), os.environ.get("AW_AS_OF", ""))
    with dg.DagsterInstance.local_temp(str(args.dagster_home)) as instance:
        result = dg.execute_job(dg.reconstructable(load_job), instance=instance, run_config=run_config)
    args.run_id_file.write_text(result.run_id)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
