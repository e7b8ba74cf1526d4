"""Benchmark of the dbt build: a full build, and an increment of about 1 % of the rows, at one scale.

The generated landing folder is split by day (landing/days.py): the history, and the
last `--increment-days` days (7 days hold about 1.2 % of the rows at every scale). Then, each in a
subprocess of its own (so that CPU time and peak memory are the step's alone):

- full: the landing step and `dbt build` on every file, into a new warehouse;
- increment: the landing step and `dbt build` on the history (as of the first increment day), then
  the days' files are added and the landing step and `dbt build` run again: the second build is the
  increment.

For each step: wall and CPU seconds (user + system: the figure least affected by other work on the
machine), peak RSS, the load average before and after, and for the builds the slowest nodes. Prints
a table and writes bench/results/dbt_<scale>.json (one entry per --label, e.g. before / after a
change) with the machine and the DuckDB settings the build used.

    uv run python bench/bench_dbt.py --scale small --label after
    uv run python bench/bench_dbt.py --scale medium --landing data/bench/medium/landing --label after
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import engine_settings_for, measured, run_facts  # noqa: E402
from landing.days import split_landing_by_day  # noqa: E402

AS_OF = dt.date(2026, 6, 30)
BIN = Path(sys.executable).parent


def duckdb_settings(env: dict[str, str]) -> dict:
    """The engine settings the builds used (bench/measure.py engine_settings_for)."""
    return engine_settings_for(env)


def slowest_nodes(target: Path, count: int = 12) -> dict:
    results = json.loads((target / "run_results.json").read_text())["results"]
    timed = sorted(results, key=lambda r: r["execution_time"], reverse=True)
    return {
        "node_seconds_total": round(sum(r["execution_time"] for r in results), 1),
        "nodes": len(results),
        "slowest": {r["unique_id"].split(".", 2)[-1]: round(r["execution_time"], 1) for r in timed[:count]},
    }


class Project:
    """One warehouse and its landing folder, built the way `make dbt ARGS=build` builds it."""

    def __init__(self, root: Path, name: str, threads: str | None):
        self.root = root / name
        self.landing = self.root / "landing"
        self.target = self.root / "target"
        self.name = name
        self.env = {
            **os.environ,
            "AW_WAREHOUSE_PATH": str(self.root / "warehouse.duckdb"),
            "AW_LANDING_DIR": str(self.landing),
            "DBT_PROFILES_DIR": str(REPO),
        }
        if threads:
            self.env["AW_DUCKDB_THREADS"] = threads
        shutil.rmtree(self.root, ignore_errors=True)
        self.landing.mkdir(parents=True)

    def add(self, folder: Path) -> None:
        shutil.copytree(folder, self.landing, dirs_exist_ok=True)

    def dbt(self, *arguments: str) -> list[str]:
        return [str(BIN / "dbt"), *arguments, "--project-dir", str(REPO), "--target-path", str(self.target)]

    def parse(self) -> None:
        subprocess.run(self.dbt("parse", "--quiet"), env=self.env, check=True, cwd=REPO)

    def build(self, as_of: dt.date, step: str) -> dict:
        env = {**self.env, "AW_AS_OF": as_of.isoformat()}
        landing = measured(
            [str(BIN / "python"), "-m", "landing", "--quiet"], env, self.root / f"{step}_landing.log"
        )
        build = measured(self.dbt("build"), env, self.root / f"{step}_dbt.log")
        return {"as_of": as_of.isoformat(), "landing_step": landing, "dbt_build": build} | slowest_nodes(
            self.target
        )


def run_full_only(scale: str, landing: Path, work: Path, threads: str | None) -> dict:
    """One full build on the landing folder as it is (no split): the before/after of a change."""
    full = Project(work, "full", threads)
    full.add(landing)
    full.parse()
    full_build = full.build(AS_OF, "full")
    print(f"full build: {full_build['dbt_build']}")
    with duckdb.connect(str(full.root / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select coalesce(sum(rows_landed), 0) from audit.source_reconciliation"
        ).fetchone()[0]
    return {
        "scale": scale,
        "landing_rows": int(rows),
        "duckdb_settings": duckdb_settings(full.env),
        "full_build": full_build,
    }


def run(scale: str, landing: Path, work: Path, increment_days: int, threads: str | None) -> dict:
    days = [AS_OF - dt.timedelta(days=k) for k in range(increment_days, 0, -1)]
    split = split_landing_by_day(landing, work / "split", days)
    rows = sum(split.rows.values())
    increment_rows = rows - split.rows["history"]

    full = Project(work, "full", threads)
    full.add(split.history)
    for day in days:
        full.add(split.days[day])
    full.parse()
    full_build = full.build(AS_OF, "full")
    print(f"full build: {full_build['dbt_build']}")

    incremental = Project(work, "incremental", threads)
    incremental.add(split.history)
    incremental.parse()
    first = incremental.build(days[0], "history")
    print(f"history build: {first['dbt_build']}")
    for day in days:
        incremental.add(split.days[day])
    increment = incremental.build(AS_OF, "increment")
    print(f"increment build: {increment['dbt_build']}")
    return {
        "scale": scale,
        "landing_rows": rows,
        "increment_days": increment_days,
        "increment_rows": increment_rows,
        "increment_share": round(increment_rows / rows, 4),
        "duckdb_settings": duckdb_settings(full.env),
        "full_build": full_build,
        "history_build": first,
        "increment_build": increment,
        "increment_vs_full_cpu": round(
            increment["dbt_build"]["cpu_seconds"] / full_build["dbt_build"]["cpu_seconds"], 3
        ),
        "increment_vs_full_wall": round(
            increment["dbt_build"]["wall_seconds"] / full_build["dbt_build"]["wall_seconds"], 3
        ),
    }


def generate(scale: str, out: Path) -> Path:
    landing = out / "landing"
    if not landing.exists():
        command = [sys.executable, "-m", "datagen", "--scale", scale, "--seed", "7", "--out", str(landing)]
        subprocess.run([*command, "--quiet"], cwd=REPO, check=True)
    return landing


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="small")
    parser.add_argument("--landing", type=Path, help="a generated landing folder (else one is generated)")
    parser.add_argument("--work", type=Path, help="where to put the split files and warehouses")
    parser.add_argument("--label", default="current", help="the entry's name in the results file")
    parser.add_argument("--increment-days", type=int, default=7)
    parser.add_argument("--threads", help="AW_DUCKDB_THREADS for the builds (default: the project's)")
    parser.add_argument(
        "--full-only", action="store_true", help="only the full build, on the files as they are"
    )
    args = parser.parse_args()
    work = args.work or REPO / "data" / "bench" / f"dbt_{args.scale}"
    landing = args.landing or generate(args.scale, work / "generated")
    if args.full_only:
        figures = run_full_only(args.scale, landing, work, args.threads)
    else:
        figures = run(args.scale, landing, work, args.increment_days, args.threads)

    results_path = REPO / "bench" / "results" / f"dbt_{args.scale}.json"
    saved = json.loads(results_path.read_text()) if results_path.exists() else {"runs": {}}
    saved.update(
        {
            "benchmark": "dbt build: full vs an increment of the last days",
            "note": (
                "load_average_* show other work sharing the machine; cpu_seconds (user + system of the "
                "dbt process) is the figure least affected by it."
            ),
        }
    )
    saved["runs"][args.label] = {
        **run_facts(),
        **figures,
    }
    results_path.parent.mkdir(parents=True, exist_ok=True)
    results_path.write_text(json.dumps(saved, indent=1) + "\n")

    print(f"\n{args.scale}: {figures['landing_rows']:,} rows")
    print(f"{'step':12} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}  load before")
    for name in ("full_build", "history_build", "increment_build"):
        if name not in figures:
            continue
        for part in ("landing_step", "dbt_build"):
            m = figures[name][part]
            print(
                f"{name.split('_')[0] + ' ' + part.split('_')[0]:12} {m['wall_seconds']:8.1f} "
                f"{m['cpu_seconds']:8.1f} {m['peak_rss_largest_process_mb']:8}  {m['load_average_before']}"
            )
    if "increment_vs_full_cpu" in figures:
        print(f"increment / full (dbt cpu): {figures['increment_vs_full_cpu']:.0%}")
    print(f"written to {results_path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
