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

from dagster import get_dagster_logger
from dagster_dbt import DbtCliInvocation, DbtCliResource, DbtProject
from dagster_dbt.dbt_project import DagsterDbtProjectPreparer
from dbt_common.exceptions import DbtBaseException

from warehouse import partial_parse
from warehouse.context import PROJECT_DIR, environment_set
from warehouse.dependencies import refresh as refresh_dependencies
from warehouse.engine import stop_idle_spark

MANIFEST = "manifest.json"
logger = get_dagster_logger()


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

    def cli(
        self,
        args,
        *,
        environment: Mapping[str, str] | None = None,
        target_path: Path | None = None,
        **kwargs,
    ) -> DbtCliInvocation:
        stop_idle_spark()
        with environment_set(environment or {}):
            # dagster-dbt's own choice of folder (a private method), asked here to seed it first
            target_path = target_path or self._get_unique_target_path(context=kwargs.get("context"))
            self._seed_partial_parse(target_path)
            return super().cli(args, target_path=target_path, **kwargs)  # the dbt process starts here

    def _seed_partial_parse(self, target_path: Path) -> None:
        """Give the invocation the project's saved parse, made reusable for this warehouse file
        (warehouse/partial_parse.py); dagster-dbt copies it unchanged only when none is there."""
        folder = target_path if target_path.is_absolute() else Path(self.project_dir) / target_path
        try:
            info = partial_parse.connection_info(
                Path(self.project_dir), Path(self.profiles_dir or self.project_dir), os.environ, self.target
            )
        except DbtBaseException as error:  # dbt itself reports the profile's error, in its own words
            logger.debug("no partial parse seeded: %s", error)
            return
        logger.info("partial parse: %s", partial_parse.seed(_shared_target(self.project_dir), folder, info))

    def keep_partial_parse(self, invocation: DbtCliInvocation) -> None:
        """Make this invocation's parse the project's (dbt does so when invocations share a target
        folder; dagster-dbt gives each its own and seeds it from the project's): the next dbt step,
        on this or another warehouse file, then parses nothing again."""
        partial_parse.keep(Path(invocation.target_path), _shared_target(self.project_dir))


def _shared_target(project_dir: str) -> Path:
    """The target folder dagster-dbt seeds each invocation's from."""
    seeds = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return seeds if seeds.is_absolute() else Path(project_dir) / seeds


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
            if (target / MANIFEST).exists():
                shutil.copy(target / MANIFEST, Path(parsing) / MANIFEST)
            project_dir, profiles_dir = Path(project.project_dir), Path(project.profiles_dir)
            info = partial_parse.connection_info(project_dir, profiles_dir, os.environ)
            partial_parse.seed(target, Path(parsing), info)
            subprocess.run(
                [dbt_executable(), "parse", "--quiet", "--project-dir", str(project.project_dir),
                 "--profiles-dir", str(project.profiles_dir), "--target-path", parsing],
                check=True,
            )  # fmt: skip
            os.replace(Path(parsing) / MANIFEST, target / MANIFEST)
            partial_parse.keep(Path(parsing), target)


dbt_project = DbtProject(project_dir=PROJECT_DIR, profiles_dir=PROJECT_DIR)
ProjectPreparer().prepare_if_dev(dbt_project)
