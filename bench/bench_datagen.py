"""Benchmark of the synthetic data generator: wall time, peak memory, rows and bytes per scale.

Runs `python -m datagen` for each scale in a subprocess (so memory is the generator's alone),
polls the process tree's resident memory, reads the run's meta.json, prints a table and writes
bench/results/datagen.json together with the facts of the machine it ran on.

    uv run python bench/bench_datagen.py                 # small and large
    uv run python bench/bench_datagen.py --scales tiny small
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.measure import machine_facts, measured, write_results  # noqa: E402

RESULTS = REPO / "bench" / "results" / "datagen.json"


def run_scale(scale: str, seed: int, workdir: Path) -> dict:
    out = workdir / scale / "landing"
    command = [sys.executable, "-m", "datagen", "--scale", scale, "--seed", str(seed), "--out", str(out)]
    command.append("--quiet")
    workdir.mkdir(parents=True, exist_ok=True)
    figures = measured(command, dict(os.environ), workdir / f"{scale}.log")
    meta = json.loads((out.parent / "ground_truth" / "meta.json").read_text())
    tables: dict[str, dict[str, int]] = {}
    for relative, stats in meta["files"].items():
        source, rest = relative.split("/", 1)
        table = f"{source}/{rest.split('/')[0].split('.')[0]}"
        entry = tables.setdefault(table, {"files": 0, "rows": 0, "bytes": 0})
        entry["files"] += 1
        entry["rows"] += stats["rows"]
        entry["bytes"] += stats["bytes"]
    return {
        "scale": scale,
        "seed": seed,
        "contacts": meta["n_contacts"],
        "wall_seconds": figures["wall_seconds"],
        "cpu_seconds": figures["cpu_seconds"],
        "peak_rss_mb": max(figures["peak_rss_process_tree_mb"], figures["peak_rss_largest_process_mb"]),
        "load_average_before": figures["load_average_before"],
        "load_average_after": figures["load_average_after"],
        "generator_timings_seconds": meta["timings_seconds"],
        "tables": tables,
        "files": meta["files"],
        "total_rows": sum(t["rows"] for t in tables.values()),
        "total_bytes": sum(t["bytes"] for t in tables.values()),
        "dirt_records": sum(meta["dirt_counts"].values()),
    }


def print_table(results: list[dict]) -> None:
    header = f"{'scale':<8}{'contacts':>12}{'wall s':>9}{'CPU s':>8}{'peak RSS MB':>13}"
    print(f"{header}{'rows':>14}{'MB on disk':>12}")
    for r in results:
        print(
            f"{r['scale']:<8}{r['contacts']:>12,}{r['wall_seconds']:>9.1f}{r['cpu_seconds']:>8.1f}{r['peak_rss_mb']:>13,}"
            f"{r['total_rows']:>14,}{r['total_bytes'] / 2**20:>12,.0f}"
        )
    for r in results:
        print(f"\n{r['scale']}: rows per table (files, MB)")
        for table, t in sorted(r["tables"].items()):
            print(f"  {table:<22}{t['rows']:>14,}  ({t['files']} files, {t['bytes'] / 2**20:,.1f} MB)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scales", nargs="+", default=["small", "large"])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--workdir", type=Path, help="where to generate (default: a temporary folder)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-datagen-"))
    try:
        results = [run_scale(scale, args.seed, workdir) for scale in args.scales]
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    report = {
        "benchmark": "datagen",
        "run_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine_facts("numpy", "pyarrow"),
        "note": "load_average_* show other work sharing the machine during the run; cpu_seconds "
        "(user + system time of the generator) is the figure least affected by it",
        "results": results,
    }
    write_results(args.results, report)
    print(f"\nwritten {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
