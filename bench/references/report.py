"""The BENCHMARKS.md section of the references, from every bench/results/references_<scale>.json;
bench/bench_pipeline.py renders the file and calls this, so neither benchmark erases the other's
figures."""

from __future__ import annotations

import json
from pathlib import Path

SCALES = ("tiny", "small", "medium", "large")


def _steps(result: dict) -> dict[str, dict]:
    timings = result["timings"]
    dbt = {
        key: round(timings["dbt"]["landing_step"][key] + timings["dbt"]["dbt_build"][key], 1)
        for key in ("wall_seconds", "cpu_seconds")
    }
    dbt["own"] = timings["dbt"]["dbt_build"]["elapsed_seconds_after_parse"]
    floor, pandas = timings["floor"], timings["pandas"]
    return {
        "dbt": dbt,
        "floor": floor | {"own": floor["compute_seconds"]},
        "pandas": pandas | {"own": pandas["compute_seconds"]},
    }


def references_section(results: Path) -> list[str]:
    found = [(scale, results / f"references_{scale}.json") for scale in SCALES]
    found = [(scale, json.loads(path.read_text())) for scale, path in found if path.exists()]
    if not found:
        return []
    lines = [
        "## References: dbt vs a hand-written DuckDB floor vs pandas (core marts)",
        "",
        "Written by `make bench-references SCALE=…` (bench/bench_references.py). Same clean files",
        "(`datagen --dirt none`), same run: dbt (the landing step, then `dbt build` of the seeds and",
        "models upstream of customer_profiles, customer_rfm, customer_engagement and",
        "segment_membership, no tests), the floor (bench/references/floor.sql: each landing file read",
        "once) and pandas (bench/references/pandas_marts.py), each in a process of its own. The",
        "references' marts equal dbt's before any time is taken (keys equal, money within a cent, rates",
        "within 1e-9; bench/references/compare.py); they cover the profile columns of the CRM record and",
        "the orders, all of RFM and engagement, and the five segments defined on those marts",
        "(bench/references/inputs.py; the abandonment segments and those on model scores are left",
        "out). Wall and CPU include each process's start-up (dbt: the",
        "project's parse); *own* is the work alone: dbt's elapsed time after parsing (run_results.json),",
        "the references' own timer (reading the files included). Targets (issue 12): dbt <= 1.5x the",
        "floor; pandas >= 5x dbt. The machine is shared: read the seconds next to the load average.",
        "",
        "| scale | landing rows (read by the references) | dbt wall / CPU / own s | floor wall / CPU / own s "
        "| pandas wall / CPU / own s | dbt / floor (wall, CPU, own) | pandas / dbt (wall, own) "
        "| load before dbt | run, commit |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for scale, result in found:
        steps = _steps(result)
        dbt, floor, pandas = steps["dbt"], steps["floor"], steps["pandas"]

        def ratio(a: float, b: float) -> str:
            return (f"{a / b:.1f}x" if a >= b else f"{a / b:.2f}x") if b else "n/a"

        figures = " | ".join(
            f"{s['wall_seconds']} / {s['cpu_seconds']} / {s['own']}" for s in (dbt, floor, pandas)
        )
        versus_floor = ", ".join(ratio(dbt[k], floor[k]) for k in ("wall_seconds", "cpu_seconds", "own"))
        versus_dbt = ", ".join(ratio(pandas[k], dbt[k]) for k in ("wall_seconds", "own"))
        lines.append(
            f"| {scale} | {result['landing_rows']:,} ({result['rows_the_references_read']:,}) | {figures} "
            f"| {versus_floor} | {versus_dbt} "
            f"| {result['timings']['dbt']['landing_step']['load_average_before']} "
            f"| {result['run_at']}, `{result['git_commit']}` |"
        )
    latest = found[-1][1]
    if "columns_not_compared" in latest:
        lines += ["", "dbt columns the references do not compute (not compared):", ""]
        lines += [
            f"- {mart}: {', '.join(columns) or 'none'}"
            for mart, columns in latest["columns_not_compared"].items()
        ]
    machine = found[-1][1]["machine"]
    lines += [
        "",
        f"Machine: {machine['cpu_count']} cores ({machine['cpu_model']}), {machine['ram_gb']} GB RAM, "
        f"DuckDB {machine['duckdb']}, Python {machine['python']}.",
        "",
        "Where dbt's time goes (the ten slowest nodes of the build, seconds, run_results.json; the",
        "results file keeps every node):",
        "",
    ]
    for scale, result in found:
        profile = result["timings"]["dbt"]["profile"]
        top = list(profile["slowest"].items())[:10]
        slowest = ", ".join(f"{name.split('.')[-1]} {seconds}" for name, seconds in top)
        lines.append(
            f"- {scale}: {profile['nodes']} nodes, {profile['node_seconds_total']} s in all; {slowest}"
        )
    lines.append("")
    return lines
