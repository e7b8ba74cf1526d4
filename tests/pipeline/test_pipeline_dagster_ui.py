"""The Dagster UI as the data engineer meets it: `dagster dev` on a warehouse whose last run processed
the landing files, opened in headless Chromium. The asset graph shows the layers, a materialization
launched with the UI's own button succeeds, and the file-arrival sensor started nothing by itself.

The browser is Debian's chromium (`make browser` installs it; AW_CHROMIUM points elsewhere), never
one Playwright downloads. AW_ASSET_GRAPH_SCREENSHOT=docs/images/asset_graph.png refreshes the
README's picture of the graph."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.dagster_runs import Workspace, copy_workspace, dagster_home
from warehouse.context import PROJECT_DIR, resolve_path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

CHROMIUM_ENV = "AW_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_ENV = "AW_ASSET_GRAPH_SCREENSHOT"
CODE_LOCATION = "audience_warehouse"  # pyproject.toml, [tool.dagster]
LAYER_GROUPS = (
    "landing",
    "staging",
    "intermediate",
    "marts",
    "segments",
    "ml",
    "audiences",
    "restricted",
    "activation",
    "published",
)
STARTUP_SECONDS = 300
SCHEDULE_TAG = "dagster/schedule_name"  # what Dagster tags a scheduled run with
RUN_SECONDS = 420


def chromium_or_skip() -> str:
    """The browser to drive; CI must have one (its `make test` installs it), so there it fails."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    if os.access(path, os.X_OK):
        return path
    message = f"no browser at {path}: `make browser` installs Debian's chromium, or set {CHROMIUM_ENV}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class DagsterDev:
    url: str
    home: Path
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def _wait_until_serving(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dagster dev exited ({process.returncode}):\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(2)
    raise AssertionError(f"dagster dev not serving after {STARTUP_SECONDS} s:\n{log.read_text()[-4000:]}")


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C as a terminal sends it (SIGINT to the whole process group), so webserver, daemon,
    code server and any run worker shut down; then harder signals for whatever is left."""
    group = process.pid
    for sig, grace_seconds in ((signal.SIGINT, 60), (signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        if not _group_alive(group):
            return
        os.killpg(group, sig)
        deadline = time.monotonic() + grace_seconds
        while time.monotonic() < deadline:
            process.poll()
            if not _group_alive(group):
                return
            time.sleep(0.5)


def _restore_interrupt() -> None:
    """A shell that starts commands in the background ignores SIGINT for them; `dagster dev` must
    receive it to shut its services down."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def dagster_dev(demo_run, tmp_path):
    """`make dev` on a copy of the demo run: its own DAGSTER_HOME, a free port on 127.0.0.1, the
    environment naming the copied warehouse, the project's environment first on PATH (as `uv run`
    puts it). Stopped with its whole process group, whatever the test did."""
    workspace = copy_workspace(Workspace(demo_run.root, demo_run.landing), tmp_path / "workspace")
    home = dagster_home(tmp_path / "dagster_home")
    url = f"http://127.0.0.1:{_free_port()}"
    environment = {
        **os.environ,
        **workspace.environment(),
        "DAGSTER_HOME": str(home),
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    log = tmp_path / "dagster_dev.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", url.rsplit(":", 1)[1]],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_restore_interrupt,
        )
    try:
        _wait_until_serving(url, process, log)
        yield DagsterDev(url, home, log)
    finally:
        _stop(process)


def test_asset_graph_shows_the_layers_and_a_ui_materialization_succeeds(dagster_dev, tmp_path):
    executable = chromium_or_skip()
    from playwright.sync_api import expect, sync_playwright

    profile = tmp_path / "chromium_profile"
    profile.mkdir()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1600, "height": 1000},
        )
        try:
            page = browser.new_page()
            page.add_locator_handler(
                page.get_by_text("Join the Dagster community"),
                lambda: page.get_by_role("button", name="Skip").click(),
            )

            page.goto(f"{dagster_dev.url}/asset-groups")
            graph = page.locator("svg foreignObject")  # the graph's nodes, not the sidebar's tree
            for group in LAYER_GROUPS:
                expect(graph.get_by_text(group, exact=True).first).to_be_visible(
                    timeout=STARTUP_SECONDS * 1000
                )
            page.wait_for_timeout(2000)
            page.screenshot(path=str(tmp_path / "asset_graph.png"))
            if os.environ.get(SCREENSHOT_ENV):
                shutil.copy(tmp_path / "asset_graph.png", resolve_path(os.environ[SCREENSHOT_ENV]))

            page.goto(f"{dagster_dev.url}/locations/{CODE_LOCATION}/asset-groups/landing")
            page.get_by_role("button", name="Materialize all").click(timeout=STARTUP_SECONDS * 1000)
            run_link = page.locator("a[href*='/runs/']").first
            expect(run_link).to_be_visible(timeout=60_000)
            run_id = run_link.get_attribute("href").rsplit("/", 1)[-1]
            page.goto(f"{dagster_dev.url}/runs/{run_id}")
            expect(page.get_by_text("Success", exact=True).first).to_be_visible(timeout=RUN_SECONDS * 1000)
        finally:
            browser.close()

    with dg.DagsterInstance.local_temp(str(dagster_dev.home)) as instance:
        runs = {run.run_id: run for run in instance.get_runs()}
        records = instance.get_records_for_run(
            run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
    materialized = {record.event_log_entry.dagster_event.asset_key for record in records}
    # The schedules run too (`make dev` starts them): at 06:00 UTC the daily one launches a run of
    # its own, rightly. Any other run than the UI's would be the sensor's, on files it had seen.
    unexpected = [
        (key, run.tags) for key, run in runs.items() if key != run_id and SCHEDULE_TAG not in run.tags
    ]
    assert not unexpected, "a run neither the UI nor a schedule launched (the sensor?)"
    assert runs[run_id].status == dg.DagsterRunStatus.SUCCESS
    assert dg.AssetKey(["landing", "crm", "contacts"]) in materialized
    assert "Sensor landing_files_arrived skipped" in dagster_dev.log_text()
