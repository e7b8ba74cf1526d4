"""dbt as an analyst runs it: the CLI of this environment in a process of its own, from the
project with its profile, in a target folder of the test's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from warehouse.context import PROJECT_DIR

DBT = Path(sys.executable).with_name("dbt")


def own_target_path(folder: Path) -> Path:
    """A dbt target folder of the test's own, so that tests running side by side never rewrite
    the project's target/manifest.json while another reads it; seeded with the project's partial
    parse, so dbt does not parse the whole project again."""
    target = folder / "target"
    target.mkdir(exist_ok=True)
    partial_parse = PROJECT_DIR / "target" / "partial_parse.msgpack"
    if partial_parse.exists():
        shutil.copy(partial_parse, target / partial_parse.name)
    return target


def run_dbt(
    *arguments: str, target_path: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`dbt <arguments>` with the environment of this process plus `env` (None drops a name);
    the caller asserts on the return code and reads stdout."""
    merged = {**os.environ, "DBT_PROFILES_DIR": str(PROJECT_DIR), **(env or {})}
    merged = {name: value for name, value in merged.items() if value is not None}
    return subprocess.run(
        [str(DBT), *arguments, "--project-dir", str(PROJECT_DIR), "--target-path", str(target_path)],
        cwd=PROJECT_DIR,
        env=merged,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
