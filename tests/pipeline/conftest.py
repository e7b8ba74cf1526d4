from __future__ import annotations

import pytest


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
