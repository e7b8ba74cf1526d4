"""What each published table and column means, for the tables the warehouse cannot say itself.

dbt writes its descriptions into the warehouse as DuckDB comments (persist_docs), but only on the
relations it builds. The ML steps write their tables from Python, so their comments come from here:
the dbt sources that describe them (models/ml/_ml__sources.yml, read from the manifest) and, for
the tables no YAML declares, the descriptions below.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TableDocs:
    """A table's description and its columns' descriptions; `column_patterns` describes columns
    whose names are made from data (a feature name plus a suffix)."""

    description: str
    columns: Mapping[str, str] = field(default_factory=dict)
    column_patterns: tuple[tuple[str, str], ...] = ()

    def column(self, name: str) -> str | None:
        if self.columns.get(name):
            return self.columns[name]
        for pattern, template in self.column_patterns:
            match = re.fullmatch(pattern, name)
            if match:
                return template.format(*(part.replace("_", " ") for part in match.groups()))
        return None


Documentation = Mapping[tuple[str, str], TableDocs]


def manifest_documentation(manifest: Path) -> dict[tuple[str, str], TableDocs]:
    """Descriptions of every model, seed, snapshot and source in a dbt manifest, by (schema,
    table); empty when there is no manifest."""
    if not manifest.exists():
        return {}
    nodes = json.loads(manifest.read_text())
    documented = {}
    for node in [*nodes.get("nodes", {}).values(), *nodes.get("sources", {}).values()]:
        if node.get("resource_type") not in ("model", "seed", "snapshot", "source"):
            continue
        name = node.get("alias") or node.get("identifier") or node["name"]
        columns = {c["name"]: c.get("description") or "" for c in node.get("columns", {}).values()}
        documented[(node["schema"], name)] = TableDocs(node.get("description") or "", columns)
    return documented


_CLUSTER_FEATURE_PATTERNS = (
    (r"(.+)_overall_mean", "Mean of {0} over every customer clustered (the index's 100)."),
    (r"(.+)_mean", "Mean of {0} over the cluster's customers."),
    (r"(.+)_median", "Median of {0} over the cluster's customers."),
    (r"(.+)_index", "Cluster mean of {0} over the overall mean x 100 (100 = like everyone)."),
    (r"trait_buyer_share", "Share of the cluster's customers who ever ordered."),
    (
        r"trait_(.+)",
        "Trait z-score '{0}': the cluster's mean of the trait's features minus the overall mean, "
        "in overall standard deviations; the cluster's name comes from its strongest traits.",
    ),
)

# Tables the ML steps write that no dbt YAML declares (orchestration/assets/ml.py, ml/).
PYTHON_TABLES: dict[tuple[str, str], TableDocs] = {
    ("ml", "cluster_profiles"): TableDocs(
        "One row per customer cluster of the champion clustering model: its size and, for each key "
        "feature, the cluster's mean, median and index against everyone.",
        {
            "cluster_id": "Cluster (ml.customer_clusters.cluster_id).",
            "cluster_name": "Human name from the cluster's dominant traits.",
            "size": "Customers in the cluster.",
            "share": "Share of all clustered customers in the cluster.",
        },
        _CLUSTER_FEATURE_PATTERNS,
    ),
    ("ml", "model_runs"): TableDocs(
        "One row per model training run: what was trained on which data, its holdout score against "
        "the champion's, and whether it was promoted.",
        {
            "run_id": "Training run.",
            "model_name": "Model family (clustering, propensity, btyd, recommendations).",
            "version": "Version of the model trained in this run.",
            "trained_at": "When the model was trained (UTC).",
            "training_window_start": "First feature cutoff (or start) of the training data.",
            "training_window_end": "End of the label window (or of the training data).",
            "data_fingerprint": "SHA-256 of the training frame: equal fingerprints, equal data.",
            "n_train": "Rows the model was trained on.",
            "metrics": "Every metric of the run, as JSON.",
            "holdout_metric": "Name of the metric champion and challenger are compared on.",
            "holdout_score": "This model's score on the holdout.",
            "champion_version": "The champion before this run, which the model was compared with.",
            "champion_score": "That champion's score on the same holdout (empty when not compared).",
            "promoted": "Whether this model became the champion.",
            "reason": "Why it was or was not promoted.",
            "artifact_path": "The trained model's file (under AW_MODELS_DIR).",
            "dagster_run_id": "Dagster run that trained it.",
        },
    ),
    ("ml", "score_drift"): TableDocs(
        "Population stability index (PSI) of each scoring feature against the champion's training "
        "data, from the latest scoring run.",
        {
            "feature": "Feature the scores are computed from.",
            "kind": "numeric or categorical.",
            "psi": "Population stability index against the training data (infinite when missing).",
            "n_current": "Customers scored in this run.",
            "status": "ok, warn (psi >= warn_threshold) or fail (psi >= fail_threshold).",
            "warn_threshold": "PSI from which the feature is reported as warn.",
            "fail_threshold": "PSI from which the feature is reported as fail.",
        },
    ),
}
