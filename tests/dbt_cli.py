"""dbt as an analyst runs it: the CLI of this environment in a process of its own, from the
project with its profile, in a target folder of the test's own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from warehouse import partial_parse
from warehouse.context import PROJECT_DIR

DBT = Path(sys.executable).with_name("dbt")


def own_target_path(folder: Path) -> Path:
    """A dbt target folder of the test's own, so that tests running side by side never rewrite
    the project's target/manifest.json while another reads it (run_dbt seeds its partial parse)."""
    target = folder / "target"
    target.mkdir(exist_ok=True)
    return target


def run_dbt(
    *arguments: str, target_path: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess:
    """`dbt <arguments>` with the environment of this process plus `env` (None drops a name);
    the caller asserts on the return code and reads stdout."""
    merged = {**os.environ, "DBT_PROFILES_DIR": str(PROJECT_DIR), **(env or {})}
    merged = {name: value for name, value in merged.items() if value is not None}
    info = partial_parse.connection_info(PROJECT_DIR, PROJECT_DIR, merged)
    partial_parse.seed(PROJECT_DIR / "target", target_path, info)  # a warehouse of its own, no parse again
    return subprocess.run(
        [str(DBT), *arguments, "--project-dir", str(PROJECT_DIR), "--target-path", str(target_path)],
        cwd=PROJECT_DIR,
        env=merged,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
