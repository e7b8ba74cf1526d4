"""The one-way import rules of docs/architecture.md, checked on every Python file: a layer never
imports the layer above it, plain-Python packages never import Dagster, and nothing but the tests
and the benchmarks import the test code or the generator; and no module is too long to read whole
without saying why (tests/module_size.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.module_size import MAX_LINES, REASON, long_modules_without_a_reason
from warehouse.context import PROJECT_DIR

DAGSTER = {"orchestration", "dagster", "dagster_dbt"}
TEST_CODE = {"tests", "bench"}
# package -> top-level modules it must never import
FORBIDDEN = {
    "warehouse": DAGSTER | TEST_CODE | {"activation", "ml", "landing", "datagen"},
    "landing": DAGSTER | TEST_CODE | {"activation", "ml", "datagen"},
    "ml": DAGSTER | TEST_CODE | {"activation", "landing", "datagen"},
    "activation": DAGSTER | TEST_CODE | {"ml", "landing", "datagen"},
    "datagen": DAGSTER | TEST_CODE | {"activation", "ml", "landing"},
    "orchestration": TEST_CODE | {"datagen", "examples"},
    "examples": TEST_CODE | {"datagen"},
}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _files(package: str) -> list[Path]:
    return sorted((PROJECT_DIR / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_never_imports_a_layer_it_must_not_know(package):
    breaches = {
        str(path.relative_to(PROJECT_DIR)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in _files(package)
    }
    assert {name: found for name, found in breaches.items() if found} == {}


def test_the_rules_cover_every_python_package_of_the_project():
    packages = {
        path.parent.relative_to(PROJECT_DIR).parts[0]
        for path in PROJECT_DIR.glob("*/__init__.py")
        if not path.parent.name.startswith(".")
    }
    assert packages - set(FORBIDDEN) <= {"tests", "fake_esp"}, "a new package needs its import rules"


@pytest.mark.parametrize("package", [*sorted(FORBIDDEN), "fake_esp", "bench"])
def test_no_module_is_over_400_lines_without_saying_why(package):
    assert long_modules_without_a_reason(PROJECT_DIR / package) == []


def test_the_size_rule_finds_a_long_module_until_it_says_why(tmp_path):
    """The size checker itself must be able to fail."""
    package = tmp_path / "package"
    package.mkdir()
    body = "\n".join(f"x{n} = {n}" for n in range(MAX_LINES))
    (package / "long.py").write_text(f'"""A long module."""\n{body}\n')
    assert long_modules_without_a_reason(package) == [f"package/long.py: {MAX_LINES + 1} lines"]
    (package / "long.py").write_text(f'"""A long module.\n\n{REASON} a reason."""\n{body}\n')
    assert long_modules_without_a_reason(package) == []


def test_the_import_reader_sees_nested_and_aliased_imports(tmp_path):
    """The checker itself must be able to fail."""
    source = tmp_path / "sample.py"
    source.write_text("import dagster as dg\ndef f():\n    from orchestration.resources import X\n")
    assert imported_top_levels(source) == {"dagster", "orchestration"}
