from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import dagster as dg
import pytest

from datagen import GeneratorConfig, generate
from tests.pipeline.helpers import AS_OF, AS_OF_DATETIME, failure_messages, materialize


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
    """The whole pipeline, run once through Dagster on generated `tiny` data with every kind of
    dirt at its default rate; tests read its warehouse and the generator's hidden truth."""

    landing: Path
    truth: Path
    warehouse: Path
    as_of: datetime
    result: dg.ExecuteInProcessResult | None = None

    @property
    def root(self) -> Path:
        return self.warehouse.parent


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    root = tmp_path_factory.mktemp("demo")
    run = DemoRun(root / "landing", root / "ground_truth", root / "warehouse.duckdb", AS_OF_DATETIME)
    generate(GeneratorConfig(out=run.landing, truth_out=run.truth, scale="tiny", seed=7, progress=False))
    with pytest.MonkeyPatch.context() as patch:
        for name, value in _run_environment(root, run.landing, run.warehouse).items():
            patch.setenv(name, value)
        result = materialize(groups=None, as_of=AS_OF)
    assert result.success, failure_messages(result)
    return DemoRun(run.landing, run.truth, run.warehouse, run.as_of, result)
