"""Run config that gives every step of a job the same as_of."""

from __future__ import annotations

import dagster as dg


def as_of_run_config(job: dg.JobDefinition, as_of: str) -> dict:
    """{"ops": {op: {"config": {"as_of": ...}}}} for each op of the job whose config takes as_of."""
    ops = {}
    for node in job.graph.node_defs:
        schema = node.config_schema
        fields = getattr(getattr(schema, "config_type", None), "fields", {}) if schema else {}
        if "as_of" in fields:
            ops[node.name] = {"config": {"as_of": as_of}}
    return {"ops": ops}
