"""The pipeline's dbt resource knows the version of the environment's dbt without running
`dbt --version` (a second Python process and a request to PyPI before every dbt step)."""

from __future__ import annotations

import importlib.metadata

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
