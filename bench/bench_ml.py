"""Benchmark ml/: training and scoring time and peak memory per model at several scales.

    uv run python bench/bench_ml.py                         # 100k and 1M synthetic customers
    uv run python bench/bench_ml.py --sizes 100000 --stages clustering btyd
    uv run python bench/bench_ml.py --warehouse data/warehouse.duckdb

Input: by default synthetic frames with exactly the columns of the ml/ input contracts
(ml.synthetic: customer_features with 6 monthly cutoffs, customer_labels, transactions,
interactions over 5,000 products, products), generated once per size into a temporary Parquet
cache. With --warehouse the same frames are read from a DuckDB file (marts.customer_features,
marts.customer_labels, marts.ml_transactions, marts.ml_interactions, marts.ml_products; each
query overridable with --sql-<table>).

Measurement: every stage runs in a fresh Python subprocess that reads only the Parquet columns
and rows it needs; wall-clock times of training and scoring are taken inside it, and its peak
RSS is the kernel's ru_maxrss of that process (so it includes the inputs; the RSS right after
loading is reported separately). CPU seconds (process_time) are reported next to wall-clock
seconds: on a shared machine they show what the work costs independently of contention. The
load average before and after each stage is recorded because the machine may be shared.

Caps used at scale (documented in the modules): clustering selects k on a 50k hash sample and
compares algorithms on a 4k sample, then fits MiniBatchKMeans on everyone; propensity
cross-validates on <= 40k customers per cutoff and fits the final model on <= 600k labelled
rows; BTYD fits on <= 1M customers; recommendations use everyone.
"""

from __future__ import annotations

import argparse
import contextlib
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

STAGES = ("clustering", "propensity", "btyd", "recommendations")
TABLES = ("customer_features", "customer_labels", "transactions", "interactions", "products", "truth")
WAREHOUSE_SQL = {
    "customer_features": "select * from marts.customer_features",
    "customer_labels": "select * from marts.customer_labels",
    "transactions": "select customer_key, ordered_at, revenue from marts.ml_transactions",
    "interactions": "select customer_key, product_id, interaction, occurred_at from marts.ml_interactions",
    "products": "select product_id, product_name, category, active from marts.ml_products",
}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --- children -----------------------------------------------------------------------------------


def child_generate(out: Path, size: int, seed: int, n_products: int) -> dict:
    from ml.synthetic import make_synthetic

    t = time.perf_counter()
    d = make_synthetic(size, seed=seed, n_products=n_products)
    gen = time.perf_counter() - t
    for name in TABLES:
        getattr(d, name).to_parquet(out / f"{name}.parquet", index=False)
    (out / "as_of.txt").write_text(str(d.as_of))
    return {
        "generate_s": round(gen, 1),
        "rows": {n: len(getattr(d, n)) for n in TABLES},
        "peak_rss_mb": round(_rss_mb()),
    }


def child_warehouse(out: Path, warehouse: str, sql: dict[str, str]) -> dict:
    import duckdb

    con = duckdb.connect(warehouse, read_only=True)
    rows, errors = {}, {}
    for name, query in sql.items():
        try:
            df = con.execute(query).df()
            df.to_parquet(out / f"{name}.parquet", index=False)
            rows[name] = len(df)
        except Exception as exc:  # a missing optional table skips its stage, it does not stop the bench
            errors[name] = str(exc).splitlines()[0]
    as_of = con.execute("select max(feature_as_of) from marts.customer_features").fetchone()[0]
    (out / "as_of.txt").write_text(str(as_of))
    return {"rows": rows, "errors": errors}


def _read(data: Path, name: str, **kw):
    import pandas as pd

    path = data / f"{name}.parquet"
    if not path.exists():
        raise FileNotFoundError(f"{name} not available")
    return pd.read_parquet(path, **kw)


@contextlib.contextmanager
def timed(out: dict, stage: str):
    """Wall and CPU seconds of the block, into out[f"{stage}_s"] and out[f"cpu_{stage}_s"]."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out[f"{stage}_s"], out[f"cpu_{stage}_s"] = time.perf_counter() - wall, time.process_time() - cpu


def child_stage(stage: str, data: Path) -> dict:
    import pandas as pd

    as_of = pd.Timestamp((data / "as_of.txt").read_text().strip())
    truth = _read(data, "truth") if (data / "truth.parquet").exists() else None
    out: dict = {"stage": stage}
    t0 = time.perf_counter()
    if stage == "clustering":
        from ml.clustering import assign_clusters, fit_clusters
        from ml.evaluation import cluster_persona_agreement

        feats = _read(data, "customer_features", filters=[("feature_as_of", "==", as_of)])
        out["load_s"], out["rss_after_load_mb"] = time.perf_counter() - t0, _rss_mb()
        with timed(out, "train"):
            res = fit_clusters(feats)
        with timed(out, "score"):
            clusters = assign_clusters(res.model, feats)
        r = res.report
        out["quality"] = {
            "algorithm": r["algorithm"],
            "k": r["k"],
            "silhouette": r["silhouette"],
            "stability_ari": r["stability_ari_mean"],
            "names": sorted(r["cluster_names"].values()),
        }
        if truth is not None:
            out["quality"]["persona_ari"] = cluster_persona_agreement(clusters, truth)["ari"]
        out["n"] = len(feats)
    elif stage == "propensity":
        from ml.evaluation import propensity_auc
        from ml.propensity import score_propensity, train_propensity

        feats = _read(data, "customer_features")
        labels = _read(data, "customer_labels")
        out["load_s"], out["rss_after_load_mb"] = time.perf_counter() - t0, _rss_mb()
        with timed(out, "train"):
            res = train_propensity(feats, labels, as_of=as_of)
        with timed(out, "score"):
            scores = score_propensity(res.model, feats)
        r = res.report
        out["quality"] = {
            "chosen": r["chosen"],
            "holdout": {
                k: r["holdout_metrics"][k] for k in ("roc_auc", "pr_auc", "f1", "brier", "base_rate")
            },
            "cv_mean_pr_auc": {n: c.get("mean_pr_auc") for n, c in r["candidates"].items()},
            "n_train_final": r["n_train_final"],
            "n_cv_rows": r["n_cv_rows"],
        }
        if truth is not None:
            out["quality"]["future_roc_auc"] = propensity_auc(scores, truth)["roc_auc"]
        out["n"] = int((feats["feature_as_of"] == as_of).sum())
    elif stage == "btyd":
        from ml.btyd import rfm_summary, score_btyd
        from ml.btyd_fit import fit_btyd
        from ml.evaluation import clv_rank_correlation

        tx = _read(data, "transactions")
        out["load_s"], out["rss_after_load_mb"] = time.perf_counter() - t0, _rss_mb()
        with timed(out, "train"):
            res = fit_btyd(tx, as_of)
        with timed(out, "score"):
            scores = score_btyd(res.model, rfm_summary(tx, as_of))
        out["quality"] = {
            "method": res.model.method,
            "reason": res.model.reason,
            "bgnbd": res.report["bgnbd"],
            "gamma_gamma": res.report["gamma_gamma"],
        }
        if truth is not None:
            out["quality"]["clv_spearman_vs_revenue_next_90d"] = clv_rank_correlation(scores, truth)[
                "spearman"
            ]
        out["n"] = len(scores)
    elif stage == "recommendations":
        from ml.recommend import evaluate_hit_rate, fit_item_cf, recommend

        inter = _read(data, "interactions")
        products = _read(data, "products")
        customers = _read(data, "customer_features", columns=["customer_key", "feature_as_of"])
        customers = customers.loc[customers["feature_as_of"] == as_of, "customer_key"]
        out["load_s"], out["rss_after_load_mb"] = time.perf_counter() - t0, _rss_mb()
        with timed(out, "train"):
            model = fit_item_cf(inter, products, as_of=as_of)
        with timed(out, "score"):
            recs = recommend(model, inter, n=10, customers=customers, as_of=as_of)
        with timed(out, "evaluate"):
            hr = evaluate_hit_rate(inter, products, split_at=as_of - pd.Timedelta(days=30), n=10)
        out["quality"] = {
            "hit_rate_item_cf": hr["hit_rate_item_cf"],
            "hit_rate_popularity": hr["hit_rate_popularity"],
            "n_test_customers": hr["n_test_customers"],
            "similarity_nnz": int(model.similarity.nnz),
            "n_items": len(model.item_ids),
            "rows": len(recs),
        }
        out["n"] = int(recs["customer_key"].nunique())
    else:
        raise ValueError(stage)
    out["peak_rss_mb"] = _rss_mb()
    return out


# --- parent -------------------------------------------------------------------------------------


def _run_child(args: list[str], timeout: float) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": (proc.stderr or proc.stdout).strip().splitlines()[-1:], "wall_s": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    return res


def _round(d):
    if isinstance(d, float):
        return round(d, 4 if abs(d) < 10 else 1)
    if isinstance(d, dict):
        return {k: _round(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_round(v) for v in d]
    return d


def main() -> None:
    # Imported here, not above: the child processes measure their own memory without DuckDB in it.
    from bench.measure import machine_facts, write_results

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    ap.add_argument("--products", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--warehouse", help="read the input frames from this DuckDB file instead of synthetic data"
    )
    for name in WAREHOUSE_SQL:
        ap.add_argument(
            f"--sql-{name.replace('_', '-')}", default=WAREHOUSE_SQL[name], help=f"query for {name}"
        )
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "ml.json"))
    ap.add_argument("--timeout", type=float, default=3600)
    ap.add_argument("--child", choices=["generate", "warehouse", "stage"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.child:
        data = Path(a.data)
        if a.child == "generate":
            res = child_generate(data, a.sizes[0], a.seed, a.products)
        elif a.child == "warehouse":
            sql = {n: getattr(a, f"sql_{n}") for n in WAREHOUSE_SQL}
            res = child_warehouse(data, a.warehouse, sql)
        else:
            res = child_stage(a.stage, data)
        print(json.dumps(_round(res), default=str))
        return

    results = {
        "machine": machine_facts(),
        "input": "warehouse:" + a.warehouse if a.warehouse else "synthetic (ml.synthetic, contract columns)",
        "method": "one subprocess per stage; times inside it; peak RSS = ru_maxrss of that subprocess",
        "runs": [],
    }
    sizes = [None] if a.warehouse else a.sizes
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench_ml_") as tmp:
            if a.warehouse:
                prep = _run_child(
                    ["--child", "warehouse", "--data", tmp, "--warehouse", a.warehouse], a.timeout
                )
            else:
                prep = _run_child(
                    [
                        "--child",
                        "generate",
                        "--data",
                        tmp,
                        "--sizes",
                        str(size),
                        "--seed",
                        str(a.seed),
                        "--products",
                        str(a.products),
                    ],
                    a.timeout,
                )
            print(f"[size {size or 'warehouse'}] input ready: {json.dumps(prep)}", flush=True)
            for stage in a.stages:
                load_before = os.getloadavg()[0]
                res = _run_child(["--child", "stage", "--data", tmp, "--stage", stage], a.timeout)
                res.update(
                    size=size,
                    stage=stage,
                    loadavg_before=round(load_before, 2),
                    loadavg_after=round(os.getloadavg()[0], 2),
                )
                results["runs"].append(res)
                print(f"[size {size or 'warehouse'}] {stage}: {json.dumps(res, default=str)}", flush=True)
            results.setdefault("inputs", {})[str(size or "warehouse")] = prep

    print()
    header = (
        f"{'customers':>10} {'stage':<16} {'train s':>8} {'cpu s':>8} {'score s':>8} {'cpu s':>8} "
        f"{'peak RSS MB':>12} {'load avg':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in results["runs"]:
        if "error" in r:
            print(f"{r['size'] or '-':>10} {r['stage']:<16} error: {r['error']}")
            continue
        print(
            f"{r.get('n', r['size']):>10} {r['stage']:<16} {r['train_s']:>8.1f} {r['cpu_train_s']:>8.1f} "
            f"{r['score_s']:>8.1f} {r['cpu_score_s']:>8.1f} {r['peak_rss_mb']:>12.0f} "
            f"{r['loadavg_before']:>9.1f}"
        )
    out = Path(a.out)
    write_results(out, results)
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
