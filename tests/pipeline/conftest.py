from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

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
    monkeypatch.setenv("AW_LANDING_DIR", str(landing))
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(warehouse))
    monkeypatch.delenv("AW_AS_OF", raising=False)
    return landing, warehouse


@dataclass(frozen=True)
class DemoRun:
    """The whole pipeline, run once through Dagster on generated `tiny` data with every kind of
    dirt at its default rate; tests read its warehouse and the generator's hidden truth."""

    landing: Path
    truth: Path
    warehouse: Path
    as_of: datetime


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> DemoRun:
    root = tmp_path_factory.mktemp("demo")
    run = DemoRun(root / "landing", root / "ground_truth", root / "warehouse.duckdb", AS_OF_DATETIME)
    generate(GeneratorConfig(out=run.landing, truth_out=run.truth, scale="tiny", seed=7, progress=False))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AW_LANDING_DIR", str(run.landing))
        patch.setenv("AW_WAREHOUSE_PATH", str(run.warehouse))
        patch.delenv("AW_AS_OF", raising=False)
        result = materialize(groups=None, as_of=AS_OF)
    assert result.success, failure_messages(result)
    return run
