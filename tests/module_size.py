"""Modules small enough to read whole: a module over the limit must say why in its docstring."""

from __future__ import annotations

import ast
from pathlib import Path

MAX_LINES = 400
REASON = "Why one module:"


def long_modules_without_a_reason(package: Path, max_lines: int = MAX_LINES) -> list[str]:
    """'<path>: <n> lines' for every module of the package (subpackages too) longer than
    max_lines whose docstring has no line starting with 'Why one module:'."""
    found = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text()
        n_lines = len(source.splitlines())
        if n_lines > max_lines and REASON not in (ast.get_docstring(ast.parse(source)) or ""):
            found.append(f"{path.relative_to(package.parent)}: {n_lines} lines")
    return found
