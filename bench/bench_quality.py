"""How well the models of a finished pipeline run recover the generator's hidden truth.

Run after `make run` (any scale):

    uv run python bench/bench_quality.py --warehouse data/warehouse.duckdb --truth data/ground_truth

Prints persona recovery of the clusters (ARI, NMI) next to the supervised ceiling (the ARI of a
classifier told the personas, out of fold, on the same features: what the features can show), how
propensity ranks real buyers of the next 30 days (ROC AUC, PR AUC, top-decile lift) and how
predicted CLV ranks the next 90 days' revenue (Spearman), with the row counts of every public mart,
and writes them to bench/results/quality.json.
The pipeline itself never reads the ground truth.
"""

from __future__ import annotations

import argparse
import json
import platform
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd

from ml.evaluation import cluster_persona_agreement, clv_rank_correlation, persona_recovery, propensity_auc

RESULTS = Path(__file__).parent / "results" / "quality.json"
COUNTED_SCHEMAS = ("marts", "audiences", "ml", "audit")


def _frames(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        scored = con.execute(
            "select details.contact_id as customer_key, scores.purchase_propensity, "
            "scores.predicted_clv_365d, clusters.cluster_id, clusters.cluster_name "
            "from restricted.customer_contact_details as details "
            "inner join ml.customer_scores as scores on details.customer_key = scores.customer_key "
            "inner join ml.customer_clusters as clusters on details.customer_key = clusters.customer_key "
            "where details.contact_id is not null"
        ).df()
        features = con.execute(
            "select details.contact_id as customer_key, features.* exclude (customer_key) "
            "from marts.customer_features as features inner join restricted.customer_contact_details "
            "as details on features.customer_key = details.customer_key where details.contact_id is not null"
        ).df()
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in "
            f"({', '.join(repr(s) for s in COUNTED_SCHEMAS)}) order by 1, 2"
        ).fetchall()
        counts = {
            f"{schema}.{table}": con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
            for schema, table in tables
        }
    return scored, features, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, default=Path("data/warehouse.duckdb"))
    parser.add_argument("--truth", type=Path, default=Path("data/ground_truth"))
    parser.add_argument("--label", default="", help="what was run (scale, seed), stored with the figures")
    args = parser.parse_args()

    scored, features, counts = _frames(args.warehouse)
    truth = pd.read_parquet(args.truth / "customers.parquet").rename(columns={"contact_id": "customer_key"})
    clusters = cluster_persona_agreement(scored, truth)
    recovery = persona_recovery(scored, features, truth)
    figures = {
        "label": args.label,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "customers_with_truth": len(scored.merge(truth, on="customer_key")),
        "clusters_vs_personas": {
            **{key: clusters[key] for key in ("ari", "nmi", "n")},
            **{key: recovery[key] for key in ("supervised_ceiling_ari", "supervised_accuracy")},
        },
        "propensity_vs_orders_next_30d": propensity_auc(scored, truth),
        "clv_vs_revenue_next_90d": clv_rank_correlation(scored, truth),
        "table_rows": counts,
    }
    print(json.dumps({key: value for key, value in figures.items() if key != "table_rows"}, indent=2))
    print("\ncluster x persona:\n" + clusters["contingency"].to_string())
    print("\nrows per table:")
    for table, rows in counts.items():
        print(f"  {table:<48} {rows:>10,}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
