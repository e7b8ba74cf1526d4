"""`make bench-triggered SCALE=10k|100k|1M`: how long new web and order files take to reach the ESPs
through the triggered_audiences job (the sensor's fast path), next to daily_refresh on the same files.

The data is generated once per scale (bench_pipeline.generate) and split by day: the history and the
last day. With a fake ESP (fake_esp, on 127.0.0.1) configured for all three ESPs, each step a
process of its own (orchestration.run_pipeline, as `make run` runs a job):

1. full: full_pipeline on the history at as_of = the last day, every list synced to the fake ESP;
2. triggered: the last day's web and order files land, then triggered_audiences at as_of 2026-06-30;
   its wall time is the latency from the files landing to the ESP holding the change (the sensor's
   tick, at most a minute, comes on top);
3. daily: daily_refresh on the same files and as_of right after, for the cost of the path the
   sensor would otherwise take (the triggered lists are already in line then, so it sends a little
   less than it would alone).

Writes bench/results/triggered_<scale>.json: per run the wall and CPU seconds, peak RSS, the seconds
of each step, the requests the fake ESPs received and the members their lists hold after it."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_pipeline import AS_OF, SCALES, generate, run_environment  # noqa: E402
from bench.measure import engine_settings_for, machine_facts, measured, write_results  # noqa: E402
from fake_esp import FakeESP  # noqa: E402
from landing.days import split_landing_by_day  # noqa: E402

RESULTS = REPO / "bench" / "results"
TRIGGERING_SOURCES = ("web", "orders")


def _rows(path: Path) -> int:
    """Data rows of one landed file (Parquet from its footer; CSV without its header; JSON lines)."""
    if path.suffix == ".parquet":
        return pq.ParquetFile(path).metadata.num_rows
    lines = sum(1 for line in path.open("rb") if line.strip())
    return lines - 1 if path.suffix == ".csv" else lines


def _run(job: str, as_of: dt.date, env: dict[str, str], root: Path, fake: FakeESP) -> dict:
    report = root / f"{job}_report.json"
    command = [sys.executable, "-m", "orchestration.run_pipeline", "--job", job, "--as-of", as_of.isoformat()]
    fake.reset_log()
    figures = measured([*command, "--report", str(report)], env, root / f"{job}.log")
    return {
        "job": job,
        "as_of": as_of.isoformat(),
        **figures,
        **json.loads(report.read_text()),
        "esp_requests": fake.request_count(),
        "esp_list_members_after": _list_members(fake),
    }


def _list_members(fake: FakeESP) -> dict[str, int]:
    """Members of every list the fake ESPs hold, per ESP."""
    return {esp: sum(sizes.values()) for esp, sizes in fake.stats()["lists"].items()}


def run(scale: str, work: Path) -> dict:
    landing = generate(scale, work / "generated")
    last_day = AS_OF - dt.timedelta(days=1)
    split_root = work / "split"
    shutil.rmtree(split_root, ignore_errors=True)
    split = split_landing_by_day(landing, split_root, [last_day])
    root = work / "triggered"
    shutil.rmtree(root, ignore_errors=True)
    (root / "landing").mkdir(parents=True)
    shutil.copytree(split.history, root / "landing", dirs_exist_ok=True)
    day_files = [
        path
        for source in TRIGGERING_SOURCES
        for path in sorted((split.days[last_day] / source).rglob("*"))
        if path.is_file()
    ]
    env = run_environment(root)
    with FakeESP(log_bodies=False) as fake:
        env |= fake.env()
        full = _run("full_pipeline", last_day, env, root, fake)
        print(f"full: {full['wall_seconds']} s", flush=True)
        for path in day_files:
            target = root / "landing" / path.relative_to(split.days[last_day])
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        triggered = _run("triggered_audiences", AS_OF, env, root, fake)
        print(f"triggered: {triggered['wall_seconds']} s", flush=True)
        daily = _run("daily_refresh", AS_OF, env, root, fake)
        print(f"daily: {daily['wall_seconds']} s", flush=True)
    return {
        "scale": scale,
        "contacts": SCALES[scale][1],
        "machine": machine_facts("duckdb", "dbt-core", "dagster"),
        "duckdb_settings": engine_settings_for(env),
        "landed_files": [str(path.relative_to(split.days[last_day])) for path in day_files],
        "landed_rows": sum(_rows(path) for path in day_files),
        "full": full,
        "triggered": triggered,
        "daily": daily,
        "triggered_vs_daily_wall": round(triggered["wall_seconds"] / daily["wall_seconds"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="10k")
    parser.add_argument("--work", type=Path, default=REPO / "data" / "bench")
    args = parser.parse_args()
    figures = run(args.scale, args.work / args.scale)
    write_results(RESULTS / f"triggered_{args.scale}.json", figures)
    print(json.dumps({k: figures[k] for k in ("triggered_vs_daily_wall",)}))


if __name__ == "__main__":
    main()
