"""Benchmark the daily scoring step (ml.customer_scores and ml.score_drift): everyone at once, as the
step read it before (every cutoff of marts.customer_features and every transaction into pandas,
ml.champion.score_customers, one write), against bounded batches (ml.batch_scoring, as the Dagster
asset runs it now) at one or more batch sizes.

    uv run python bench/bench_scoring.py --customers 100000
    uv run python bench/bench_scoring.py --batch-rows 100000 20000 --out bench/results/scoring.json

Setup (not measured): ml.synthetic data of that many customers (6 monthly cutoffs) in a DuckDB
warehouse of a temporary folder, and propensity (hist gradient boosting) and BTYD champions trained
on it. Each measured run is a fresh Python subprocess scoring into that warehouse: its wall and CPU
seconds and its peak RSS (ru_maxrss, so it includes reading the inputs) are reported, with the load
average before and after (the machine may be shared; CPU seconds are the figure least affected).
After the runs, every batched result is compared with the one of everyone at once, row for row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FEATURES = "marts.customer_features"
TRANSACTIONS = "marts.ml_transactions"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_prepare(root: Path, customers: int, seed: int, clustering: bool = False) -> dict:
    import duckdb
    from threadpoolctl import threadpool_limits

    from ml.lifecycle import ModelRegistry
    from ml.synthetic import make_synthetic
    from ml.synthetic_champions import quick_propensity, train_synthetic_champions

    data = make_synthetic(customers, seed=seed, n_products=200)
    with duckdb.connect(str(root / "warehouse.duckdb")) as con:
        con.execute("create schema marts")
        con.register("features", data.customer_features)
        con.execute(f"create table {FEATURES} as select * from features")
        con.register("transactions", data.transactions[["customer_key", "ordered_at", "revenue"]])
        con.execute(f"create table {TRANSACTIONS} as select * from transactions")
    registry = ModelRegistry(root / "models")
    config = quick_propensity("hist_gradient_boosting", importance_rows=2000)
    with threadpool_limits(limits=1):
        latest = train_synthetic_champions(data, registry, config, with_clustering=clustering)
    (root / "as_of.txt").write_text(str(data.as_of))
    return {
        "feature_rows": len(data.customer_features),
        "todays_customers": len(latest),
        "transactions": len(data.transactions),
    }


def child_score(root: Path, mode: str, batch_rows: int) -> dict:
    import duckdb
    import pandas as pd

    from ml.lifecycle import ModelRegistry

    warehouse = root / "warehouse.duckdb"
    registry = ModelRegistry(root / "models")
    as_of = pd.Timestamp((root / "as_of.txt").read_text().strip())
    wall, cpu = time.perf_counter(), time.process_time()
    if mode.startswith("clusters"):
        rows = _clusters(warehouse, registry, mode, batch_rows)
    elif mode == "whole":
        from ml.champion import score_customers

        with duckdb.connect(str(warehouse), read_only=True) as con:
            features = con.execute(f"select * from {FEATURES}").df()
            transactions = con.execute(f"select customer_key, ordered_at, revenue from {TRANSACTIONS}").df()
        tables = score_customers(features, transactions, registry, as_of=as_of)
        _write_whole(
            warehouse, {"customer_scores": tables["customer_scores"], "score_drift": tables["drift"]}
        )
        rows = len(tables["customer_scores"])
    else:
        from ml.batch_scoring import (
            latest_features_sql,
            transactions_sql,
            write_customer_scores,
        )
        from warehouse.batches import batch_session

        with batch_session(f"batches_{batch_rows}", warehouse) as session:

            def between(after, up_to):
                return session.frame(*transactions_sql(TRANSACTIONS, after, up_to))

            rows = write_customer_scores(
                session.frames(latest_features_sql(FEATURES), rows=batch_rows),
                between,
                registry,
                session,
                as_of=as_of,
            ).rows
    return {
        "mode": mode,
        "batch_rows": batch_rows if mode.endswith("batches") else None,
        "rows": rows,
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "peak_rss_mb": round(_rss_mb()),
    }


def _clusters(warehouse: Path, registry, mode: str, batch_rows: int) -> int:
    """cluster_customers as it was (every cutoff in pandas, score_clusters) or in batches."""
    import duckdb

    if mode == "clusters_whole":
        from ml.champion import score_clusters

        with duckdb.connect(str(warehouse), read_only=True) as con:
            tables = score_clusters(con.execute(f"select * from {FEATURES}").df(), registry)
        _write_whole(warehouse, tables)
        return len(tables["customer_clusters"])
    from ml.batch_scoring import latest_features_sql, write_customer_clusters
    from warehouse.batches import batch_session

    with batch_session(f"batches_{batch_rows}", warehouse) as session:
        batches = session.frames(latest_features_sql(FEATURES), rows=batch_rows)
        return write_customer_clusters(batches, registry, session).rows


def _write_whole(warehouse: Path, tables: dict) -> None:
    """The tables of an all-at-once scoring into schema `whole`, in one transaction: what the
    batched modes are compared with, written the same way for scores and clusters."""
    import duckdb

    with duckdb.connect(str(warehouse)) as con:
        con.execute("begin transaction")
        con.execute("create schema if not exists whole")
        for name, table in tables.items():
            con.register("incoming", table)
            con.execute(f"create or replace table whole.{name} as select * from incoming")
            con.unregister("incoming")
        con.execute("commit")


def child_compare_clusters(root: Path, batch_sizes: list[int]) -> dict:
    """Clusters and profiles equal; the largest relative difference of distance_to_centre."""
    import duckdb
    import numpy as np

    out = {}
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        whole = con.execute("select * from whole.customer_clusters").df()
        profiles = con.execute("select * from whole.cluster_profiles").df()
        for rows in batch_sizes:
            batched = con.execute(f"select * from batches_{rows}.customer_clusters").df()
            same = batched.drop(columns="distance_to_centre").equals(whole.drop(columns="distance_to_centre"))
            a, b = (
                batched["distance_to_centre"].to_numpy(),
                whole["distance_to_centre"].to_numpy(),
            )
            ok = np.isfinite(a) & np.isfinite(b)
            gap = float(
                np.max(
                    np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300),
                    initial=0.0,
                )
            )
            same_profiles = (
                con.execute(f"select * from batches_{rows}.cluster_profiles").df().equals(profiles)
            )
            out[rows] = {
                "clusters_identical": same,
                "profiles_identical": same_profiles,
                "max_rel_distance_gap": gap,
            }
    return {"clusters_vs_whole": out}


def child_compare(root: Path, batch_sizes: list[int]) -> dict:
    import duckdb

    same = {}
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as con:
        for rows in batch_sizes:
            same[rows] = all(
                con.execute(f"select * from whole.{t}")
                .df()
                .equals(con.execute(f"select * from batches_{rows}.{t}").df())
                for t in ("customer_scores", "score_drift")
            )
    return {"identical_to_whole": same}


def _child(*args: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--batch-rows", type=int, nargs="+", default=[100_000, 20_000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--clustering",
        action="store_true",
        help="also cluster_customers, before and after",
    )
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, root, *rest = args.child
        if kind == "prepare":
            result = child_prepare(Path(root), int(rest[0]), int(rest[1]), rest[2:] == ["clustering"])
        elif kind == "score":
            result = child_score(Path(root), rest[0], int(rest[1]))
        elif kind == "compare_clusters":
            result = child_compare_clusters(Path(root), [int(r) for r in rest])
        else:
            result = child_compare(Path(root), [int(r) for r in rest])
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench_scoring_") as tmp:
        root = Path(tmp)
        t = time.perf_counter()
        setup = _child(
            "prepare",
            tmp,
            str(args.customers),
            str(args.seed),
            *(["clustering"] * args.clustering),
        )
        setup["setup_s"] = round(time.perf_counter() - t, 1)
        print("setup", setup, flush=True)
        runs = []
        modes = [("whole", 0), *[("batches", r) for r in args.batch_rows]]
        if args.clustering:
            modes += [
                ("clusters_whole", 0),
                *[("clusters_batches", r) for r in args.batch_rows],
            ]
        for mode, rows in modes:
            before = os.getloadavg()[0]
            run = _child("score", tmp, mode, str(rows))
            run["load_before"], run["load_after"] = (
                round(before, 2),
                round(os.getloadavg()[0], 2),
            )
            print(run, flush=True)
            runs.append(run)
        compared = _child("compare", tmp, *[str(r) for r in args.batch_rows])
        if args.clustering:
            compared.update(_child("compare_clusters", tmp, *[str(r) for r in args.batch_rows]))
        print(compared, flush=True)
        del root
    result = {
        "customers": args.customers,
        "setup": setup,
        "runs": runs,
        **compared,
        "cores": os.cpu_count(),
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
