"""ml/ stays plain Python and scikit-learn (the Dagster glue calls it, never the other way round)."""

import ast
from pathlib import Path

import ml

ML_DIR = Path(ml.__file__).parent


def _modules() -> list[Path]:
    return sorted(ML_DIR.glob("*.py"))


def test_no_ml_module_imports_dagster():
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {name}" for name in names if name.split(".")[0].startswith("dagster")
            ]
    assert offenders == []
