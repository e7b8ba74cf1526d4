"""The dbt project as Dagster sees it. `dagster dev` re-parses it on load (after writing the
generated dependency blocks, so a segment added by hand shows up); `make run` and CI build the
manifest ahead with `dbt parse` (the Makefile's `manifest` target)."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer

from warehouse.context import PROJECT_DIR, environment_set
from warehouse.dependencies import refresh as refresh_dependencies
from warehouse.engine import stop_idle_spark

PARTIAL_PARSE = "partial_parse.msgpack"
PARSE_OUTPUTS = (PARTIAL_PARSE, "manifest.json")  # what Dagster and the next parse read


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's environment), so the pipeline runs the
    same dbt whether or not the environment is activated; else whatever `dbt` is on PATH."""
    beside = Path(sys.executable).with_name("dbt")
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


class ProjectDbtResource(DbtCliResource):
    """dagster-dbt's dbt resource, told dbt's version rather than asking for it. Before every dbt
    step it runs `dbt --version`, which imports dbt in a second process and asks PyPI for the latest
    release: 4 to 5 s a step, and a call to the network at run time. The dbt beside this Python is
    this environment's dbt-core, whose version its package metadata holds; any other dbt is asked.

    dbt runs in a process of its own: a Spark session this process keeps between steps
    (warehouse.engine.spark_kept_between_steps) is stopped first, so that dbt can open the local
    metastore. `environment` adds variables to that process only (the run's as_of: a `--vars` that
    changes every run would make dbt parse the whole project again, its partial parse being keyed
    on the vars)."""

    @cached_property
    def _cli_version(self):
        if Path(self.dbt_executable) == Path(sys.executable).with_name("dbt"):
            from packaging import version

            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def cli(self, args, *, environment: Mapping[str, str] | None = None, **kwargs) -> DbtCliInvocation:
        stop_idle_spark()
        with environment_set(environment or {}):
            return super().cli(args, **kwargs)  # the dbt process starts here, with this environment

    def keep_partial_parse(self, invocation: DbtCliInvocation) -> None:
        """Make this invocation's parse the project's (dbt does so when invocations share a target
        folder; dagster-dbt gives each its own and seeds it from the project's): the next dbt step
        of the run, with the same profile, then parses nothing again. dbt checks a partial parse
        against the profile, vars and files before using it, so one made elsewhere costs a parse,
        never a wrong manifest."""
        parsed = Path(invocation.target_path) / PARTIAL_PARSE
        if not parsed.exists():
            return
        seeds = Path(os.environ.get("DBT_TARGET_PATH", "target"))  # where dagster-dbt seeds from
        shared = (seeds if seeds.is_absolute() else Path(self.project_dir) / seeds) / PARTIAL_PARSE
        shared.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=shared.parent, prefix=".partial-parse-", delete=False) as copy:
            copy.write(parsed.read_bytes())
        os.replace(copy.name, shared)


class ProjectPreparer(DagsterDbtProjectPreparer):
    """`dagster dev`'s preparation, with the project's own dbt (dagster-dbt's looks on PATH only)
    and the generated `-- depends_on:` blocks refreshed first. dbt parses into a folder of its own
    and the new manifest replaces the old one in one rename, so a run or a test reading
    target/manifest.json meanwhile never sees half a file."""

    def prepare(self, project: DbtProject) -> None:
        refresh_dependencies()
        target = Path(project.project_dir) / project.target_path  # dbt reads it from the project, not the cwd
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".parse-", dir=target) as parsing:
            for kept in PARSE_OUTPUTS:
                if (target / kept).exists():
                    shutil.copy(target / kept, Path(parsing) / kept)
            subprocess.run(
                [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
                 "--profiles-dir", str(project.profiles_dir), "--target-path", parsing],
                check=True,
            )  # fmt: skip
            for kept in PARSE_OUTPUTS:
                os.replace(Path(parsing) / kept, target / kept)


dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
ProjectPreparer().prepare_if_dev(dbt_project)
