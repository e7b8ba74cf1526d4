"""`make bench SCALE=10k|100k|1M`: the whole pipeline through Dagster (the full_pipeline job, as
`make run` runs it) on generated data, then a daily increment of about 1 % new rows.

The data is generated once per scale (kept under data/bench/<scale>/generated) and split by day
(landing/days.py): the history, and the last `--increment-days` days (7 days hold
about 1.2 % of the rows). Then, each in a subprocess of its own so the figures are that run's alone:

- full: a new warehouse, the history landed, the pipeline at as_of = the first increment day;
- increment: the days' files added to the same landing folder, the pipeline again at as_of 2026-06-30.

For each run: wall and CPU seconds, the seconds of each Dagster step (run_pipeline --report), peak
RSS (the largest single process, from the kernel, and the whole process tree sampled every 0.5 s),
landing rows per second of wall time, and the load average before and after (other work on the
machine inflates wall time; CPU seconds are the figure least affected). Writes
bench/results/<scale>.json and rewrites BENCHMARKS.md from every bench/results/<scale>.json (and the
references' section from bench/results/references_<scale>.json).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import engine_settings_for, measured, run_facts  # noqa: E402
from bench.references.report import references_section  # noqa: E402
from landing.days import split_landing_by_day  # noqa: E402

AS_OF = dt.date(2026, 6, 30)
# Scale name -> (the generator's scale, contacts).
SCALES = {"10k": ("small", 10_000), "100k": ("medium", 100_000), "1M": ("large", 1_000_000)}
RESULTS = REPO / "bench" / "results"
BENCHMARKS = REPO / "BENCHMARKS.md"


def generate(scale: str, out: Path) -> Path:
    """The scale's landing files, generated on the first call and reused afterwards."""
    landing = out / "landing"
    if (out / "complete").exists():
        return landing
    shutil.rmtree(out, ignore_errors=True)
    generator_scale, contacts = SCALES[scale]
    command = [sys.executable, "-m", "datagen", "--scale", generator_scale, "--contacts", str(contacts)]
    command += ["--seed", "7", "--as-of", f"{AS_OF.isoformat()}T00:00:00Z", "--out", str(landing), "--quiet"]
    subprocess.run(command, cwd=REPO, check=True)
    (out / "complete").touch()
    return landing


def run_environment(root: Path) -> dict[str, str]:
    """This process's environment with the run's places under `root` (no AW_ setting of the caller
    but the DuckDB engine's, no DAGSTER_HOME: an ephemeral instance)."""
    env = {
        key: value for key, value in os.environ.items() if key != "DAGSTER_HOME" and not key.startswith("AW_")
    }
    env |= {
        "AW_WAREHOUSE_PATH": str(root / "warehouse.duckdb"),
        "AW_LANDING_DIR": str(root / "landing"),
        "AW_MODELS_DIR": str(root / "models"),
        "AW_ACTIVATION_FILE_DIR": str(root / "activation"),
        "DBT_PROFILES_DIR": str(REPO),
    }
    env |= {key: value for key, value in os.environ.items() if key.startswith("AW_DUCKDB_")}
    # A later as_of moves windowed segments (new customers: 30 days) by more than the volume guard's
    # 20 %: the guard would (rightly) stop a real sync; a benchmark lets it pass. Consent removals
    # are never held back either way.
    env["AW_ACTIVATION_MAX_SHRINK"] = "1"
    return env


def pipeline_run(env: dict[str, str], as_of: dt.date, root: Path, name: str) -> dict:
    report = root / f"{name}_report.json"
    command = [sys.executable, "-m", "orchestration.run_pipeline", "--as-of", as_of.isoformat()]
    figures = measured([*command, "--report", str(report)], env, root / f"{name}.log")
    return {"as_of": as_of.isoformat(), **figures, **json.loads(report.read_text())}


def run(scale: str, work: Path, increment_days: int, save: Callable[[dict], None]) -> None:
    """Both runs; `save` gets the figures after the full run (increment None) and again at the end,
    so that a benchmark stopped during the increment still leaves the full run's figures."""
    landing = generate(scale, work / "generated")
    days = [AS_OF - dt.timedelta(days=k) for k in range(increment_days, 0, -1)]
    split_root = work / "split"
    shutil.rmtree(split_root, ignore_errors=True)
    split = split_landing_by_day(landing, split_root, days)
    rows = sum(split.rows.values())
    increment_rows = rows - split.rows["history"]

    root = work / "run"
    shutil.rmtree(root, ignore_errors=True)
    (root / "landing").mkdir(parents=True)
    shutil.copytree(split.history, root / "landing", dirs_exist_ok=True)
    env = run_environment(root)
    settings = engine_settings_for(env)
    figures = {
        "scale": scale,
        "contacts": SCALES[scale][1],
        "landing_rows": rows,
        "increment_days": increment_days,
        "increment_rows": increment_rows,
        "increment_share": round(increment_rows / rows, 4),
        "duckdb_settings": settings,
        "full": None,
        "increment": None,
    }

    full = pipeline_run(env, days[0], root, "full")
    full["landing_rows"] = split.rows["history"]
    full["rows_per_second"] = round(full["landing_rows"] / full["wall_seconds"])
    print(f"full: {full['wall_seconds']} s wall, {full['cpu_seconds']} s CPU", flush=True)
    save(figures | {"full": full})

    for day in days:
        shutil.copytree(split.days[day], root / "landing", dirs_exist_ok=True)
    increment = pipeline_run(env, AS_OF, root, "increment")
    increment["landing_rows"] = rows
    increment["rows_per_second"] = round(rows / increment["wall_seconds"])
    print(f"increment: {increment['wall_seconds']} s wall, {increment['cpu_seconds']} s CPU", flush=True)
    save(
        figures
        | {
            "full": full,
            "increment": increment,
            "increment_vs_full_wall": round(increment["wall_seconds"] / full["wall_seconds"], 3),
            "increment_vs_full_cpu": round(increment["cpu_seconds"] / full["cpu_seconds"], 3),
        }
    )


# BENCHMARKS.md below this line holds what was measured by hand (the scoring batches, the test
# suite's profile): rendering keeps it as it is, so `make bench` never erases it.
HAND_MEASURED = (
    "<!-- Measured by hand, below: make bench and make bench-references keep this part as it is. -->"
)


def kept_hand_measurements(current: str) -> str:
    """The part of BENCHMARKS.md from the HAND_MEASURED line on ("" when there is none)."""
    at = current.find(HAND_MEASURED)
    return current[at:] if at >= 0 else ""


def render_benchmarks(current: str | None = None) -> str:
    """BENCHMARKS.md from every bench/results/<scale>.json, smallest scale first, then the hand
    measurements of `current` (the file as it is, when not given)."""
    if current is None:
        current = BENCHMARKS.read_text() if BENCHMARKS.exists() else ""
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench SCALE=10k|100k|1M` (bench/bench_pipeline.py) from",
        "bench/results/<scale>.json: the full_pipeline job through Dagster on generated data (a new",
        "warehouse, the history), then the same pipeline after a batch of about 1 % new rows (the last",
        "days). Wall time is inflated by other work on the machine: read it next to the load average;",
        "CPU seconds are the steadier figure. Peak RSS: the largest single process (kernel) and the",
        "whole process tree (sampled).",
        "",
    ]
    for scale in SCALES:
        path = RESULTS / f"{scale}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        machine = result["machine"]
        lines += [
            f"## {scale} contacts",
            "",
            f"- run {result['run_at']}, commit `{result['git_commit']}`; {machine['cpu_count']} cores "
            f"({machine['cpu_model']}), {machine['ram_gb']} GB RAM, DuckDB {machine['duckdb']}",
            f"- DuckDB settings: {result['duckdb_settings']}",
            f"- {result['landing_rows']:,} landing rows; the increment: {result['increment_rows']:,} rows "
            f"({result['increment_share']:.1%}, the last {result['increment_days']} days)",
            "",
            "| run | wall s | CPU s | largest process MB | process tree MB | rows/s | load before "
            "| load after |",
            "|---|---:|---:|---:|---:|---:|---|---|",
        ]
        runs = [name for name in ("full", "increment") if result.get(name)]
        for name in runs:
            figures = result[name]
            lines.append(
                f"| {name} | {figures['wall_seconds']} | {figures['cpu_seconds']} | "
                f"{figures['peak_rss_largest_process_mb']:,} | {figures['peak_rss_process_tree_mb']:,} | "
                f"{figures['rows_per_second']:,} | {figures['load_average_before']} | "
                f"{figures['load_average_after']} |"
            )
        lines.append("")
        if "increment_vs_full_wall" in result:
            lines += [
                f"Increment / full: {result['increment_vs_full_wall']:.0%} of the wall time, "
                f"{result['increment_vs_full_cpu']:.0%} of the CPU time.",
                "",
            ]
        else:
            lines += ["The increment run did not finish: only the full run's figures.", ""]
        lines += [f"| step | {' | '.join(f'{name} s' for name in runs)} |", "|---|" + "---:|" * len(runs)]
        steps = dict.fromkeys(step for name in runs for step in result[name]["step_seconds"])
        for step in steps:
            seconds = [str(result[name]["step_seconds"].get(step, "")) for name in runs]
            lines.append(f"| {step} | {' | '.join(seconds)} |")
        lines.append("")
    generated = "\n".join(lines + references_section(RESULTS))
    kept = kept_hand_measurements(current)
    return f"{generated.rstrip()}\n\n{kept}" if kept else generated


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", choices=list(SCALES), default="10k")
    parser.add_argument("--work", type=Path, help="where the data and the warehouse go (data/bench/<scale>)")
    parser.add_argument("--increment-days", type=int, default=7)
    args = parser.parse_args()
    work = args.work or REPO / "data" / "bench" / args.scale
    header = {
        "benchmark": "the full_pipeline job: a full run, then an increment of about 1 % new rows",
        **run_facts(),
    }

    def save(figures: dict) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / f"{args.scale}.json").write_text(json.dumps(header | figures, indent=1) + "\n")
        BENCHMARKS.write_text(render_benchmarks())
        print(f"written to bench/results/{args.scale}.json and BENCHMARKS.md", flush=True)

    run(args.scale, work, args.increment_days, save)


if __name__ == "__main__":
    main()
