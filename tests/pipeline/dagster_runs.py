"""Runs of the project's jobs as `dagster dev` makes them: a persistent instance configured by
orchestration/dagster.yaml, one process per run, the multiprocess executor; and what their event
logs say about the warehouse pools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from warehouse.context import PROJECT_DIR, warehouse_pool

AS_OF = "2026-06-30T00:00:00"


def dagster_home(folder: Path) -> Path:
    """A DAGSTER_HOME like the Makefile's: the project's dagster.yaml copied in, and its storage
    created here, once, as `dagster dev` creates it before any run: two runs that start together
    on a new home otherwise both create its SQLite databases and stamp their schema version twice,
    which leaves every later open failing ("more than one head present")."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DIR / "orchestration" / "dagster.yaml", folder / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(folder)) as instance:
        instance.get_runs_count()
    return folder


@dataclass(frozen=True)
class Workspace:
    """One warehouse and everything a run writes beside it, named by the environment."""

    root: Path
    landing: Path
    as_of: str = AS_OF

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published(self) -> Path:
        return self.root / "published" / "warehouse.duckdb"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def pool(self) -> str:
        return warehouse_pool(self.warehouse)

    def environment(self) -> dict[str, str]:
        return {
            "AW_LANDING_DIR": str(self.landing),
            "AW_WAREHOUSE_PATH": str(self.warehouse),
            "AW_MODELS_DIR": str(self.models),
            "AW_PUBLISHED_PATH": str(self.published),
            "AW_ACTIVATION_FILE_DIR": str(self.exports),
            "AW_AS_OF": self.as_of,
        }


def copy_workspace(source: Workspace, root: Path, as_of: str = AS_OF) -> Workspace:
    """The warehouse, models, exports and published snapshot of a finished run, in `root`, reading
    the same landing files: the state a data engineer's machine is in after a green run."""
    root.mkdir(parents=True, exist_ok=True)
    copy = Workspace(root, source.landing, as_of)
    shutil.copy(source.warehouse, copy.warehouse)
    for folder in ("models", "exports"):
        if (source.root / folder).exists():
            shutil.copytree(source.root / folder, root / folder)
    if source.published.exists():
        copy.published.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source.published, copy.published)
    return copy


@dataclass
class LaunchedRun:
    job: str
    workspace: Workspace
    process: subprocess.Popen
    log: Path
    run_id_file: Path

    def wait(self, timeout: float) -> str:
        """The run id once the run ended; the run's log when it did not succeed."""
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(
                f"{self.job} still running after {timeout:.0f} s:\n{self._log_tail()}"
            ) from None
        assert code == 0, f"{self.job} failed (exit {code}):\n{self._log_tail()}"
        return self.run_id_file.read_text().strip()

    def _log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def launch(job: str, workspace: Workspace, home: Path) -> LaunchedRun:
    """Start one run of `job` on `workspace` in a process of its own (tests/pipeline/run_dagster_job)."""
    name = f"{job}-{workspace.root.name}"
    log = home / f"{name}.log"
    run_id_file = home / f"{name}.run_id"
    environment = {**os.environ, **workspace.environment(), "DAGSTER_HOME": str(home)}
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.pipeline.run_dagster_job", job, str(home), str(run_id_file)],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    return LaunchedRun(job, workspace, process, log, run_id_file)


@dataclass(frozen=True)
class StepSpan:
    """When one step of a run executed, and the pool whose slot it held."""

    run_id: str
    step_key: str
    pool: str | None
    started: float
    finished: float

    def overlaps(self, other: StepSpan) -> bool:
        return self.started < other.finished and other.started < self.finished


def step_spans(instance: dg.DagsterInstance, run_id: str) -> list[StepSpan]:
    """Every executed step of the run, from STEP_START to its success or failure, with the pool the
    run's execution plan put it in."""
    run = instance.get_run_by_id(run_id)
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    pools = {step.key: step.pool for step in plan.steps}
    started: dict[str, float] = {}
    spans = []
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started[event.step_key] = entry.timestamp
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            spans.append(
                StepSpan(
                    run_id,
                    event.step_key,
                    pools.get(event.step_key),
                    started[event.step_key],
                    entry.timestamp,
                )
            )
    return spans


def overlapping_pairs(spans: list[StepSpan]) -> list[tuple[StepSpan, StepSpan]]:
    return [(a, b) for i, a in enumerate(spans) for b in spans[i + 1 :] if a.overlaps(b)]


def event_messages(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [entry.user_message or "" for entry in instance.all_logs(run_id)]
