"""The dbt unit tests run once per test run, here: the pipeline's dbt steps leave them out (they check
the SQL against fixtures, not the data), so this is where a broken rule in SQL turns the suite red."""

from __future__ import annotations

import json
import shutil

from tests.dbt_cli import own_target_path, run_dbt
from warehouse.context import PROJECT_DIR


def _unit_tests_in_the_project() -> set[str]:
    manifest = json.loads((PROJECT_DIR / "target" / "manifest.json").read_text())
    return {unit_test["name"] for unit_test in manifest["unit_tests"].values()}


def test_every_dbt_unit_test_passes_as_an_analyst_runs_them(demo_run, tmp_path):
    """`make dbt ARGS="test --select test_type:unit"` on a built warehouse (dbt reads the parents'
    column types from it): every unit test of the project runs, and each passes."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, warehouse)
    target = own_target_path(tmp_path)
    completed = run_dbt(
        "test", "--select", "test_type:unit", target_path=target, env={"AW_WAREHOUSE_PATH": str(warehouse)}
    )
    assert completed.returncode == 0, completed.stdout[-5000:]
    results = json.loads((target / "run_results.json").read_text())["results"]
    results = [result for result in results if result["unique_id"].startswith("unit_test.")]
    ran = {result["unique_id"].split(".")[-1] for result in results}
    expected = _unit_tests_in_the_project()
    assert len(expected) > 30, "the project's unit tests were not found: the test would pass for nothing"
    assert ran == expected
    assert {result["status"] for result in results} == {"pass"}


def test_the_pipeline_dbt_steps_build_models_and_data_tests_but_no_unit_test(demo_run):
    """Each dbt step of the demo run leaves its run_results.json in the project's target folder
    (dagster-dbt names it after the step and the run): models and data tests ran, no unit test."""
    for step in ("dbt_core", "dbt_after_ml"):
        folders = sorted((PROJECT_DIR / "target").glob(f"{step}-{demo_run.run_id[:7]}-*"))
        assert len(folders) == 1, f"{step} of run {demo_run.run_id}: {folders}"
        results = json.loads((folders[0] / "run_results.json").read_text())["results"]
        kinds = {result["unique_id"].split(".")[0] for result in results}
        assert {"model", "test"} <= kinds, f"{step} ran {kinds}"
        assert "unit_test" not in kinds, f"{step} ran dbt unit tests"
