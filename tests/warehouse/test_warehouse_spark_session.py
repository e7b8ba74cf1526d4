"""The life of the process's Spark session (warehouse/engine.py), without a JVM: the session
factory and its stop are replaced by a recorder, since what is checked is when a session starts and
stops, not Spark. The real sessions run in the Spark suite (tests/spark), where a dbt step that found
the metastore held would fail the pipeline."""

from __future__ import annotations

import pytest

from warehouse import engine


class SessionRecorder:
    def __init__(self):
        self.started = 0
        self.stopped = 0

    def start(self):
        self.started += 1
        return f"session {self.started}"

    def stop(self, session):
        self.stopped += 1

    @property
    def running(self) -> int:
        return self.started - self.stopped


@pytest.fixture
def sessions(monkeypatch):
    recorder = SessionRecorder()
    monkeypatch.setattr(engine, "spark_session", recorder.start)
    monkeypatch.setattr(engine, "stop_spark", recorder.stop)
    yield recorder
    assert engine._SharedSession.session is None and engine._SharedSession.users == 0


@pytest.fixture
def on_spark(monkeypatch):
    monkeypatch.setenv("AW_ENGINE", "spark")


def step() -> None:
    """What one Python step does with the warehouse: open an engine, use it, close it."""
    with engine.connected() as step_engine:
        step_engine.start()


def test_each_step_starts_and_stops_its_own_session_by_default(on_spark, sessions):
    step()
    assert sessions.running == 0
    step()
    assert (sessions.started, sessions.stopped) == (2, 2)


def test_engines_open_at_once_share_one_session(on_spark, sessions):
    with engine.connected() as first, engine.connected() as second:
        first.start()
        second.start()
        assert sessions.started == 1
    assert sessions.running == 0


def test_steps_run_in_one_process_share_a_kept_session_until_the_block_ends(on_spark, sessions):
    with engine.spark_kept_between_steps():
        step()
        step()
        assert (sessions.started, sessions.running) == (1, 1)
    assert (sessions.started, sessions.stopped) == (1, 1)


def test_a_kept_session_is_stopped_before_dbt_and_started_again_after_it(on_spark, sessions):
    with engine.spark_kept_between_steps():
        step()
        engine.stop_idle_spark()  # what the dbt resource does before its subprocess starts
        assert sessions.running == 0
        step()
        assert (sessions.started, sessions.running) == (2, 1)
    assert sessions.running == 0


def test_a_session_in_use_is_never_stopped_as_idle(on_spark, sessions):
    with engine.spark_kept_between_steps(), engine.connected() as busy:
        busy.start()
        engine.stop_idle_spark()
        assert sessions.running == 1
    assert sessions.running == 0


def test_the_dbt_resource_stops_an_idle_kept_session_before_dbt_starts(on_spark, sessions, monkeypatch):
    from dagster_dbt import DbtCliResource

    from orchestration.project import ProjectDbtResource, dbt_executable, dbt_project

    running_when_dbt_started = []

    def dbt_started(resource, args, **kwargs):
        running_when_dbt_started.append(sessions.running)

    monkeypatch.setattr(DbtCliResource, "cli", dbt_started)
    resource = ProjectDbtResource(project_dir=dbt_project, dbt_executable=dbt_executable())
    with engine.spark_kept_between_steps():
        step()
        resource.cli(["build"])
    assert running_when_dbt_started == [0]
