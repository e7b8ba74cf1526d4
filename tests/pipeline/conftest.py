from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest
from filelock import FileLock

from datagen import GeneratorConfig, generate
from tests.pipeline.dagster_runs import Workspace, dagster_home, launch
from tests.pipeline.helpers import AS_OF_DATETIME

DEMO_RUN_TIMEOUT_SECONDS = 1800


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An empty landing folder and warehouse file of the test's own, named by the environment as
    a user would (AW_LANDING_DIR, AW_WAREHOUSE_PATH)."""
    landing = tmp_path / "landing"
    landing.mkdir()
    warehouse = tmp_path / "warehouse.duckdb"
    for name, value in _run_environment(tmp_path, landing, warehouse).items():
        monkeypatch.setenv(name, value)
    return landing, warehouse


def _run_environment(root: Path, landing: Path, warehouse: Path) -> dict[str, str]:
    """Where one pipeline run reads and writes, all under `root`."""
    return {
        "AW_LANDING_DIR": str(landing),
        "AW_WAREHOUSE_PATH": str(warehouse),
        "AW_MODELS_DIR": str(root / "models"),
        "AW_PUBLISHED_PATH": str(root / "published" / "warehouse.duckdb"),
        "AW_ACTIVATION_FILE_DIR": str(root / "exports"),
    }


@dataclass(frozen=True)
class DemoRun:
    """The whole pipeline (the full_pipeline job), run once as `dagster dev` runs it — a persistent
    instance configured by orchestration/dagster.yaml, a process of its own, the multiprocess
    executor — on generated `tiny` data with every kind of dirt at its default rate; tests read its
    warehouse, its run's events and the generator's hidden truth."""

    landing: Path
    truth: Path
    warehouse: Path
    as_of: datetime
    dagster_home: Path
    run_id: str

    @property
    def root(self) -> Path:
        return self.warehouse.parent

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.local_temp(str(self.dagster_home))

    def materializations(self, step_key: str) -> list[dg.AssetMaterialization]:
        """What one step of the run materialized, with its metadata."""
        with self.instance() as instance:
            records = instance.get_records_for_run(
                self.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records
        return [
            record.event_log_entry.dagster_event.event_specific_data.materialization
            for record in records
            if record.event_log_entry.dagster_event.step_key == step_key
        ]


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    """Built once per test run. Under pytest-xdist the first worker that asks builds it in the run's
    shared temporary folder, holding a file lock; the others wait on the lock and read the same
    files (every test that changes anything works on a copy). A failed build is recorded, so the
    other workers fail at once with its message instead of building it again."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "demo"
    record = shared / "demo_run.json"
    with FileLock(shared / "demo_run.lock"):
        if not record.exists():
            try:
                run_id = _build_demo_run(root)
            except Exception as error:
                record.write_text(json.dumps({"error": f"{type(error).__name__}: {error}"}))
                raise
            record.write_text(json.dumps({"run_id": run_id}))
    built = json.loads(record.read_text())
    if "error" in built:
        pytest.fail(f"the demo run failed (built by another test worker): {built['error']}")
    landing = root / "landing"
    return DemoRun(
        landing,
        root / "ground_truth",
        root / "warehouse.duckdb",
        AS_OF_DATETIME,
        root / "dagster_home",
        built["run_id"],
    )


def _build_demo_run(root: Path) -> str:
    """The generated data and one full_pipeline run on it; the run's id."""
    landing = root / "landing"
    generate(
        GeneratorConfig(out=landing, truth_out=root / "ground_truth", scale="tiny", seed=7, progress=False)
    )
    home = dagster_home(root / "dagster_home")
    return launch("full_pipeline", Workspace(root, landing), home).wait(DEMO_RUN_TIMEOUT_SECONDS)
