"""What the bench scripts measure the same way: the machine they ran on, and one command's wall and
CPU seconds, peak memory and the load average around it (other work on a shared machine inflates
wall time; CPU seconds are the figure least affected)."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import threading
import time
from pathlib import Path

import duckdb
import psutil

REPO = Path(__file__).resolve().parents[1]


def engine_settings_for(env: dict[str, str]) -> dict[str, str]:
    """The DuckDB settings the project resolves for a run with this environment
    (warehouse/context.py engine_settings), as a results file keeps them: the spill directory named
    relative to the warehouse, never as a path of this machine."""
    from warehouse import context

    saved = dict(os.environ)
    try:
        os.environ.update(env)
        warehouse = Path(env["AW_WAREHOUSE_PATH"])
        settings = dict(context.engine_settings(warehouse))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    temp = Path(settings["temp_directory"])
    beside = temp.parent == warehouse.parent
    settings["temp_directory"] = (
        f"{temp.name} (beside the warehouse)" if beside else f"{temp.name} (AW_DUCKDB_TEMP_DIR)"
    )
    return settings


def machine_facts(*packages: str) -> dict:
    """The machine a benchmark ran on and the versions of DuckDB and of the named packages, as every
    results file records them."""
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next(
        (line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown"
    )
    facts = {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "duckdb": duckdb.__version__,
    }
    return facts | {package: importlib.metadata.version(package) for package in packages}


def run_facts(*packages: str) -> dict:
    """When, at which commit and on what machine (machine_facts with these packages) a benchmark
    ran: the provenance every results entry records, so runs can be told apart and compared."""
    return {
        "run_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
        "machine": machine_facts(*packages),
    }


def write_results(path: Path, results: dict, indent: int = 2) -> None:
    """Write a benchmark's results as JSON (its folder created), where the docs and README read them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=indent, default=str) + "\n")


class TreeMemory(threading.Thread):
    """Samples the summed RSS of a process and all its descendants; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(self.pid)
                total = 0
                for process in [root, *root.children(recursive=True)]:
                    with contextlib.suppress(psutil.Error):
                        total += process.memory_info().rss
                self.peak = max(self.peak, total)
            self.done.wait(self.interval)


def measured(command: list[str], env: dict[str, str], log: Path) -> dict:
    """Run one command to completion (its output to `log`): wall and CPU seconds, its own and its
    children's; peak RSS of the largest single process (kernel) and of the whole process tree
    (sampled every 0.5 s); the load average before and after. A failure stops the benchmark."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    with open(log, "w") as sink:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
        sampler = TreeMemory(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        sampler.done.set()
        sampler.join()
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:4])} failed: see {log}\n{log.read_text()[-3000:]}")
    return {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_largest_process_mb": round(usage.ru_maxrss / 1024),
        "peak_rss_process_tree_mb": round(sampler.peak / 2**20),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
