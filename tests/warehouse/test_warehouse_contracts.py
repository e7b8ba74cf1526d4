"""Every dbt model a Python step reads by name has an enforced contract, and so has every model of
the public marts schema: a renamed or retyped column fails the dbt build, not the step reading it.
Reads the manifest `make setup` builds (target/manifest.json)."""

from __future__ import annotations

import json
import re

import pytest

from warehouse.context import PROJECT_DIR

MANIFEST = PROJECT_DIR / "target" / "manifest.json"
PYTHON_FOLDERS = ("activation", "bench", "examples", "landing", "ml", "orchestration", "warehouse")
SCHEMAS = ("marts", "audiences", "restricted", "intermediate", "audit", "privacy", "staging", "segments")
TABLE_NAME = re.compile(rf"\b({'|'.join(SCHEMAS)})\.(\w+)\b")


def _models() -> dict[tuple[str, str], dict]:
    if not MANIFEST.exists():
        pytest.skip("no dbt manifest: run `make setup`")
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    return {
        (node["config"]["schema"], node["alias"] or node["name"]): node
        for node in nodes
        if node["resource_type"] == "model"
    }


def _read_by_python(models: dict[tuple[str, str], dict]) -> dict[tuple[str, str], set[str]]:
    readers: dict[tuple[str, str], set[str]] = {}
    for folder in PYTHON_FOLDERS:
        for path in sorted((PROJECT_DIR / folder).rglob("*.py")):
            for schema, name in TABLE_NAME.findall(path.read_text()):
                if (schema, name) in models:
                    readers.setdefault((schema, name), set()).add(str(path.relative_to(PROJECT_DIR)))
    return readers


def test_every_model_python_reads_has_an_enforced_contract():
    models = _models()
    readers = _read_by_python(models)
    assert ("marts", "customer_features") in readers
    assert ("marts", "ml_transactions") in readers
    missing = {
        f"{schema}.{name}": sorted(paths)
        for (schema, name), paths in readers.items()
        if not models[(schema, name)]["config"]["contract"]["enforced"]
    }
    assert not missing, f"read by Python without an enforced dbt contract: {missing}"


def test_every_public_mart_has_an_enforced_contract():
    missing = sorted(
        name
        for (schema, name), node in _models().items()
        if schema == "marts" and not node["config"]["contract"]["enforced"]
    )
    assert not missing, f"marts without an enforced dbt contract: {missing}"
