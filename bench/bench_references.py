"""dbt against two references on the same files, in the same run: the floor (a hand-written DuckDB
script, bench/references/floor.sql) and pandas (bench/references/pandas_marts.py), computing the
core marts: customer profiles, RFM, engagement tiers and segment membership.

The landing folder is generated with `--dirt none` (the references skip dirt handling and identity
resolution; on clean data those steps change nothing, so the three must agree). Then, each in a
process of its own (bench/measure.py: wall and CPU seconds, peak RSS, load average):

- dbt: the landing step, then `dbt build` of the seeds and models the four marts need
  (`+customer_profiles +customer_rfm +customer_engagement +segment_membership`, no tests; the
  membership's upstream includes the segments the references leave out, see
  bench/references/inputs.py);
- floor and pandas: `python -m bench.references <name>`, which reads the landing files, computes
  the marts and writes them as Parquet.

The references' rows are compared with the dbt marts (bench/references/compare.py) before any time
is printed: a disagreement stops the benchmark. Prints a table and the ratios, and writes
bench/results/references_<scale>.json with the machine, commit, load and the dbt nodes that took
longest (run_results.json), and renders BENCHMARKS.md (bench/bench_pipeline.py, whose file it shares).

    uv run python bench/bench_references.py --scale small
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_dbt import BIN, Project, slowest_nodes  # noqa: E402
from bench.bench_pipeline import BENCHMARKS, render_benchmarks  # noqa: E402
from bench.measure import engine_settings_for, measured, run_facts, write_results  # noqa: E402
from bench.references.compare import Agreement, compare, dbt_marts, uncompared_columns  # noqa: E402
from bench.references.floor import MARTS  # noqa: E402

AS_OF = "2026-06-30T00:00:00Z"
DBT_SELECTION = ["+customer_profiles", "+customer_rfm", "+customer_engagement", "+segment_membership"]
# The references test nothing, so dbt builds seeds and models only.
NO_TESTS = ["resource_type:test", "resource_type:unit_test"]
REFERENCES = ("floor", "pandas")


def generate_clean(scale: str, landing: Path) -> Path:
    if not landing.exists():
        command = [sys.executable, "-m", "datagen", "--scale", scale, "--seed", "7", "--dirt", "none"]
        subprocess.run([*command, "--as-of", AS_OF, "--out", str(landing), "--quiet"], cwd=REPO, check=True)
    return landing


def build_with_dbt(landing: Path, work: Path, threads: str | None = None) -> tuple[Project, dict]:
    """A new warehouse under work/dbt built from the landing folder the way `make dbt` builds:
    the landing step, then dbt build of DBT_SELECTION without tests, each step measured."""
    project = Project(work, "dbt", threads)
    project.add(landing)
    project.parse()
    return project, run_dbt(project)


def disagreements(computed: dict[str, dict[str, pd.DataFrame]], warehouse: Path) -> dict[str, Agreement]:
    """Each reference's marts against the dbt marts of the warehouse."""
    columns = {mart: list(frame.columns) for mart, frame in computed["floor"].items()}
    expected = dbt_marts(warehouse, columns)
    return {name: compare(name, frames, expected) for name, frames in computed.items()}


def run_dbt(project: Project) -> dict:
    env = {**project.env, "AW_AS_OF": AS_OF}
    landing = measured([str(BIN / "python"), "-m", "landing", "--quiet"], env, project.root / "landing.log")
    command = project.dbt("build", "--select", *DBT_SELECTION, "--exclude", *NO_TESTS)
    dbt = measured(command, env, project.root / "dbt.log")
    elapsed = json.loads((project.target / "run_results.json").read_text())["elapsed_time"]
    dbt["elapsed_seconds_after_parse"] = round(elapsed, 1)
    return {"landing_step": landing, "dbt_build": dbt, "profile": slowest_nodes(project.target, count=1000)}


def run_reference(name: str, landing: Path, work: Path, env: dict) -> tuple[dict, dict[str, pd.DataFrame]]:
    out = work / name
    command = [str(BIN / "python"), "-m", "bench.references", name, "--landing", str(landing)]
    figures = measured([*command, "--out", str(out), "--as-of", AS_OF], env, work / f"{name}.log")
    figures |= json.loads((out / "seconds.json").read_text())
    return figures, {mart: pd.read_parquet(out / f"{mart}.parquet") for mart in MARTS}


def ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 2) if denominator else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", default="small")
    parser.add_argument("--work", type=Path, help="where to put the files and warehouse")
    parser.add_argument("--threads", help="AW_DUCKDB_THREADS for dbt and the floor (default: the project's)")
    args = parser.parse_args()
    work = args.work or REPO / "data" / "bench" / f"references_{args.scale}"
    landing = generate_clean(args.scale, work / "generated" / "landing")

    project, dbt_timings = build_with_dbt(landing, work, args.threads)
    timings = {"dbt": dbt_timings}
    print("dbt: built", flush=True)
    computed = {}
    for name in REFERENCES:
        timings[name], computed[name] = run_reference(name, project.landing, work, project.env)
        print(f"{name}: computed", flush=True)

    warehouse = project.root / "warehouse.duckdb"
    agreements = disagreements(computed, warehouse)
    for agreement in agreements.values():
        if not agreement:
            raise SystemExit(f"{agreement.reference} disagrees with dbt:\n" + "\n".join(agreement.problems))

    dbt_wall = timings["dbt"]["landing_step"]["wall_seconds"] + timings["dbt"]["dbt_build"]["wall_seconds"]
    dbt_cpu = timings["dbt"]["landing_step"]["cpu_seconds"] + timings["dbt"]["dbt_build"]["cpu_seconds"]
    ratios = {
        "dbt_vs_floor_wall": ratio(dbt_wall, timings["floor"]["wall_seconds"]),
        "dbt_vs_floor_cpu": ratio(dbt_cpu, timings["floor"]["cpu_seconds"]),
        "dbt_build_only_vs_floor_wall": ratio(
            timings["dbt"]["dbt_build"]["wall_seconds"], timings["floor"]["wall_seconds"]
        ),
        "dbt_elapsed_vs_floor_compute": ratio(
            timings["dbt"]["dbt_build"]["elapsed_seconds_after_parse"], timings["floor"]["compute_seconds"]
        ),
        "pandas_vs_floor_compute": ratio(
            timings["pandas"]["compute_seconds"], timings["floor"]["compute_seconds"]
        ),
        "pandas_vs_floor_wall": ratio(timings["pandas"]["wall_seconds"], timings["floor"]["wall_seconds"]),
        "pandas_vs_dbt_wall": ratio(timings["pandas"]["wall_seconds"], dbt_wall),
        "pandas_vs_dbt_cpu": ratio(timings["pandas"]["cpu_seconds"], dbt_cpu),
    }
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows, read = con.execute(
            "select sum(rows_parsed), sum(rows_parsed) filter (where source || '/' || table_name in"
            " ('crm/contacts', 'orders/orders', 'email/events')) from landing.landing_files"
        ).fetchone()
    results = {
        "benchmark": "dbt vs the hand-written DuckDB floor vs pandas, core marts, same clean files",
        "note": (
            "Each step in its own process; wall and CPU seconds include Python start-up (dbt: also "
            "parsing the project). compute_seconds: the reference's own timer, reading included; "
            "elapsed_seconds_after_parse: dbt's own (run_results.json), the nodes without start-up. "
            "load_average_* show other work on the machine; cpu_seconds is the figure least affected."
        ),
        **run_facts("pandas", "dbt-core", "dbt-duckdb"),
        "scale": args.scale,
        "landing_rows": int(rows),
        "rows_the_references_read": int(read),
        "data": "datagen --dirt none --seed 7",
        "dbt_selection": " ".join(DBT_SELECTION),
        "duckdb_settings": engine_settings_for(project.env),
        "agreement": {name: {"rows": a.rows, "differences": a.problems} for name, a in agreements.items()},
        "columns_not_compared": uncompared_columns(
            warehouse, {mart: list(frame.columns) for mart, frame in computed["floor"].items()}
        ),
        "timings": timings,
        "ratios": ratios,
    }
    path = REPO / "bench" / "results" / f"references_{args.scale}.json"
    write_results(path, results, indent=1)
    BENCHMARKS.write_text(render_benchmarks())

    customers = len(computed["floor"]["customer_profiles"])
    print(f"\n{args.scale}: {rows:,} landing rows ({read:,} in the tables the references read)")
    print(f"floor and pandas agree with dbt on all {customers:,} customers")
    print(f"{'step':16} {'wall s':>8} {'cpu s':>8} {'own s':>8} {'peak MB':>8}  load before")
    steps = [
        ("dbt landing", timings["dbt"]["landing_step"]),
        ("dbt build", timings["dbt"]["dbt_build"]),
        ("floor", timings["floor"]),
        ("pandas", timings["pandas"]),
    ]
    for label, m in steps:
        wall, cpu, peak = m["wall_seconds"], m["cpu_seconds"], m["peak_rss_largest_process_mb"]
        own = m.get("compute_seconds", m.get("elapsed_seconds_after_parse", float("nan")))
        print(f"{label:16} {wall:8.1f} {cpu:8.1f} {own:8.1f} {peak:8}  {m['load_average_before']}")
    for name, value in ratios.items():
        print(f"{name:28} {value}")
    print("slowest dbt nodes:", dict(list(timings["dbt"]["profile"]["slowest"].items())[:10]))
    print(f"written to {path.relative_to(REPO)} and BENCHMARKS.md")


if __name__ == "__main__":
    main()
