"""The pipeline's dbt resource knows the version of the environment's dbt without running
`dbt --version` (a second Python process and a request to PyPI before every dbt step)."""

from __future__ import annotations

import importlib.metadata
import json
import os

import dagster_dbt.core.resource
import pytest

from orchestration.project import ProjectDbtResource, dbt_executable, dbt_project


def _refuse_subprocesses(*args, **kwargs):
    raise AssertionError(f"a subprocess was started: {args}")


def test_the_environment_dbt_version_is_read_from_its_package_not_from_a_process(monkeypatch):
    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", _refuse_subprocesses)
    resource = ProjectDbtResource(project_dir=dbt_project, dbt_executable=dbt_executable())
    assert str(resource._cli_version) == importlib.metadata.version("dbt-core")


def test_a_dbt_from_elsewhere_is_still_asked(monkeypatch, tmp_path):
    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", _refuse_subprocesses)
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\necho 'installed: 1.11.0'\n")
    elsewhere.chmod(0o755)
    resource = ProjectDbtResource(project_dir=dbt_project, dbt_executable=str(elsewhere))
    with pytest.raises(AssertionError, match="a subprocess was started"):
        _ = resource._cli_version


def _shown_as_of(invocation) -> str:
    events = [event.raw_event for event in invocation.stream_raw_events()]
    shown = [json.loads(event["data"]["preview"]) for event in events if event["info"]["name"] == "ShowNode"]
    assert shown, "dbt showed nothing"
    return shown[0][0]["as_of"]


@pytest.mark.slow  # two real dbt invocations: left to `make test`, out of `make test-fast`
def test_the_run_as_of_reaches_dbt_and_a_new_one_parses_nothing_again(tmp_path, monkeypatch):
    """The dbt step hands the run's as_of to dbt in its environment, not as a --vars (which would
    make dbt parse the whole project again each run), and keeps its parse for the next step."""
    target = tmp_path / "target"
    monkeypatch.setenv("DBT_TARGET_PATH", str(target))  # dagster-dbt's target folder, here the test's own
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.delenv("AW_AS_OF", raising=False)
    resource = ProjectDbtResource(project_dir=dbt_project, dbt_executable=dbt_executable())
    show = ["show", "--inline", "select '{{ as_of_text() }}' as as_of", "--output", "json"]
    shown, logs = [], []
    for as_of in ("2026-06-30 00:00:00", "2026-07-01 00:00:00"):
        invocation = resource.cli(show, environment={"AW_AS_OF": as_of}, manifest=dbt_project.manifest_path)
        shown.append(_shown_as_of(invocation))
        resource.keep_partial_parse(invocation)
        logs.append((invocation.target_path / "dbt.log").read_text())
    assert shown == ["2026-06-30 00:00:00", "2026-07-01 00:00:00"]
    assert "AW_AS_OF" not in os.environ
    assert (target / "partial_parse.msgpack").exists()
    assert (
        "Unable to do partial parsing" not in logs[1]
        and "Nothing changed, skipping partial parsing" in logs[1]
    )
