"""Run config that gives every step of a job the same as_of, on top of the job's own config."""

from __future__ import annotations

import copy

import dagster as dg


def as_of_run_config(job: dg.JobDefinition, as_of: str) -> dict:
    """The job's own run config (say, triggered_audiences' only_triggered exports), with
    {"as_of": ...} added to the config of each op that takes as_of. An op's config given at launch
    replaces what the job sets for that op, never merges with it: without this, a run started with
    an as_of would lose, say, the dbt step's test selection of triggered_audiences."""
    run_config = copy.deepcopy(job.run_config) if isinstance(job.run_config, dict) else {}
    ops = run_config.setdefault("ops", {})
    for node in job.graph.node_defs:
        schema = node.config_schema
        fields = getattr(getattr(schema, "config_type", None), "fields", {}) if schema else {}
        if "as_of" in fields:
            ops.setdefault(node.name, {}).setdefault("config", {})["as_of"] = as_of
    return run_config
