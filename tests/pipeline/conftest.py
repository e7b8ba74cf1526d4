from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

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
    root = tmp_path_factory.mktemp("demo")
    landing = root / "landing"
    truth = root / "ground_truth"
    generate(GeneratorConfig(out=landing, truth_out=truth, scale="tiny", seed=7, progress=False))
    home = dagster_home(root / "dagster_home")
    run = launch("full_pipeline", Workspace(root, landing), home)
    run_id = run.wait(DEMO_RUN_TIMEOUT_SECONDS)
    return DemoRun(landing, truth, root / "warehouse.duckdb", AS_OF_DATETIME, home, run_id)
