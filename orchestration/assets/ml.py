"""Machine learning: training (group ml_training, its own weekly schedule) and daily scoring with
the champions (group ml). The models are in ml/; this module only reads the marts, calls it, writes
the tables of the `ml` schema and shows metrics and plots in the Dagster UI.

The ml modules that import scikit-learn and SciPy (about a second) are imported inside the steps
that use them: every step process of a run loads this module, and most steps train nothing."""

import base64
from contextlib import contextmanager
from dataclasses import dataclass

import dagster as dg
import pandas as pd

from ml.drift import PSI_FAIL, PSI_WARN, check_drift
from ml.gates import BEATS_BASELINE_CHECK, NOT_DEGENERATE_CHECK, training_verdicts
from ml.lifecycle import ModelRegistry, model_runs_frame, save_plots
from ml.summaries import recommendation_summary, training_summary
from orchestration.resources import (
    DUCKDB_POOL,
    AsOfConfig,
    ModelStoreResource,
    WarehouseResource,
    resolve_as_of,
)

FEATURES = dg.AssetKey(["marts", "customer_features"])
LABELS = dg.AssetKey(["marts", "customer_labels"])
TRANSACTIONS = dg.AssetKey(["marts", "ml_transactions"])
INTERACTIONS = dg.AssetKey(["marts", "ml_interactions"])
PRODUCTS = dg.AssetKey(["marts", "ml_products"])
DRIFT_WARN_CHECK = "features_and_score_are_stable"
SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


@dataclass
class Inputs:
    features: pd.DataFrame
    labels: pd.DataFrame
    transactions: pd.DataFrame
    interactions: pd.DataFrame
    products: pd.DataFrame

    @property
    def customers(self) -> pd.Series:
        from ml.features import latest_customers

        return latest_customers(self.features)


def _inputs(warehouse: WarehouseResource) -> Inputs:
    return Inputs(
        features=warehouse.frame("select * from marts.customer_features"),
        labels=warehouse.frame("select * from marts.customer_labels"),
        transactions=warehouse.frame("select customer_key, ordered_at, revenue from marts.ml_transactions"),
        interactions=warehouse.frame("select * from marts.ml_interactions"),
        products=warehouse.frame("select * from marts.ml_products"),
    )


def inline_plots(plots: dict[str, bytes]) -> dict:
    """Each PNG shown inline in the UI (a markdown image)."""
    return {
        f"plot_{name}": dg.MetadataValue.md(
            f"![{name}](data:image/png;base64,{base64.b64encode(png).decode()})"
        )
        for name, png in plots.items()
    }


# Each model's training stage (ml.runner, imported by the step that trains) on the marts' inputs.
TRAINERS = {
    "clustering": lambda runner, inputs, registry, as_of: runner.run_clustering(inputs.features, registry),
    "propensity": lambda runner, inputs, registry, as_of: runner.run_propensity(
        inputs.features, inputs.labels, registry, as_of=as_of, transactions=inputs.transactions
    ),
    "btyd": lambda runner, inputs, registry, as_of: runner.run_btyd(
        inputs.transactions, registry, as_of=as_of, customers=inputs.customers
    ),
    "recommendations": lambda runner, inputs, registry, as_of: runner.run_recommendations(
        inputs.interactions, inputs.products, registry, as_of=as_of, customers=inputs.customers
    ),
}


GATE_CHECKS = {
    "propensity": {
        BEATS_BASELINE_CHECK: "The chosen model beat every naive baseline on the latest fold by the "
        "margin of ml.gates; warns when a baseline is served instead.",
    },
    "btyd": {
        BEATS_BASELINE_CHECK: "BG/NBD churn risk and Gamma-Gamma value beat days since the last "
        "purchase and historic spend on the holdout fold; warns when the RFM heuristic is served.",
        NOT_DEGENERATE_CHECK: "The BG/NBD fit is not degenerate (somebody drops out, P(alive) has a "
        "spread, churn AUC above 0.5 on the fold); warns when it is and the heuristic takes over.",
    },
}


def _training_asset(model_name: str) -> dg.AssetsDefinition:
    key = ["ml", "models", model_name]

    @dg.asset(
        key=key,
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, description=description)
            for name, description in GATE_CHECKS.get(model_name, {}).items()
        ],
        deps=[FEATURES, LABELS, TRANSACTIONS, INTERACTIONS, PRODUCTS],
        group_name="ml_training",
        pool=DUCKDB_POOL,
        kinds={"python", "scikitlearn"},
        description=f"Train a {model_name} challenger, compare it with the champion on the same holdout "
        "and promote it only if it is not worse by more than the tolerance; log the run in ml.model_runs.",
    )
    def train(
        context: dg.AssetExecutionContext,
        warehouse: WarehouseResource,
        model_store: ModelStoreResource,
        config: AsOfConfig,
    ):
        as_of = pd.Timestamp(resolve_as_of(context, config))
        registry = ModelRegistry(model_store.path)
        with warehouse.session():
            from ml import runner

            stage = TRAINERS[model_name](runner, _inputs(warehouse), registry, as_of)
            run = stage.model_run
            warehouse.append_rows(
                "ml", "model_runs", model_runs_frame([{**run, "dagster_run_id": context.run.run_id}])
            )
        save_plots(run, stage.plots)
        metadata = {
            **training_summary(run),
            "report": dg.MetadataValue.json(stage.report),
            **inline_plots(stage.plots),
        }
        checks = [
            dg.AssetCheckResult(
                check_name=name,
                passed=verdict.passed,
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"summary": dg.MetadataValue.json(verdict.summary())},
            )
            for name, verdict in training_verdicts(model_name, stage.report).items()
        ]
        return dg.MaterializeResult(metadata=metadata, check_results=checks)

    return train


training_assets = [_training_asset(name) for name in TRAINERS]


@contextmanager
def _champions_or_fail():
    """A missing champion fails the step with the registry's message (run the training job)."""
    from ml.champion import NoChampionError

    try:
        yield
    except NoChampionError as error:
        raise dg.Failure(description=str(error)) from error


def _scoring_spec(name: str, deps: list[dg.AssetKey], description: str) -> dg.AssetSpec:
    """A table of the `ml` schema written by a daily scoring step."""
    return dg.AssetSpec(
        ["ml", name], group_name="ml", kinds={"python", "duckdb"}, deps=deps, description=description
    )


CLUSTERING_DEPS = [FEATURES, dg.AssetKey(["ml", "models", "clustering"])]
SCORING_DEPS = [
    FEATURES,
    TRANSACTIONS,
    dg.AssetKey(["ml", "models", "propensity"]),
    dg.AssetKey(["ml", "models", "btyd"]),
]


@dg.multi_asset(
    specs=[
        _scoring_spec(
            "customer_clusters",
            CLUSTERING_DEPS,
            "Each customer's micro-segment by the champion clustering.",
        ),
        _scoring_spec(
            "cluster_profiles",
            CLUSTERING_DEPS,
            "Size, name and feature profile of each cluster.",
        ),
    ],
    pool=DUCKDB_POOL,
    name="cluster_customers",
)
def cluster_customers(warehouse: WarehouseResource, model_store: ModelStoreResource):
    from ml.batch_scoring import latest_features_sql, scoring_batch_rows, write_customer_clusters

    with warehouse.session(), warehouse.batches("ml") as session, _champions_or_fail():
        clustered = write_customer_clusters(
            session.frames(latest_features_sql("marts.customer_features"), rows=scoring_batch_rows()),
            ModelRegistry(model_store.path),
            session,
        )
    yield dg.MaterializeResult(
        asset_key=["ml", "customer_clusters"], metadata={"rows": clustered.rows, "sizes": clustered.sizes}
    )
    yield dg.MaterializeResult(
        asset_key=["ml", "cluster_profiles"], metadata={"rows": len(clustered.cluster_profiles)}
    )


@dg.multi_asset(
    specs=[
        _scoring_spec(
            "customer_scores",
            SCORING_DEPS,
            "Purchase propensity and decile, churn risk, probability alive, expected "
            "purchases and predicted CLV over 365 days, with model versions.",
        ),
        _scoring_spec(
            "score_drift",
            SCORING_DEPS,
            "Population stability index of every feature and of the score, the "
            "champion's training population against today's.",
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            DRIFT_WARN_CHECK,
            asset=["ml", "customer_scores"],
            description=f"No feature nor the score drifted past the PSI fail threshold ({PSI_FAIL}); "
            f"warns past {PSI_WARN}.",
        ),
    ],
    pool=DUCKDB_POOL,
    name="score_customers",
)
def score_customers_asset(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
    config: AsOfConfig,
):
    from ml.batch_scoring import (
        latest_features_sql,
        scoring_batch_rows,
        transactions_sql,
        write_customer_scores,
    )

    as_of = pd.Timestamp(resolve_as_of(context, config))
    with warehouse.session(), warehouse.batches("ml") as session, _champions_or_fail():

        def transactions_between(after, up_to) -> pd.DataFrame:
            return session.frame(*transactions_sql("marts.ml_transactions", after, up_to))

        scored = write_customer_scores(
            session.frames(latest_features_sql("marts.customer_features"), rows=scoring_batch_rows()),
            transactions_between,
            ModelRegistry(model_store.path),
            session,
            as_of=as_of,
        )
    drift = scored.drift
    yield dg.MaterializeResult(
        asset_key=["ml", "customer_scores"], metadata={"rows": scored.rows, **scored.summary}
    )
    yield dg.MaterializeResult(asset_key=["ml", "score_drift"], metadata={"rows": len(drift)})
    verdict = check_drift(drift)
    yield dg.AssetCheckResult(
        asset_key=["ml", "customer_scores"],
        check_name=DRIFT_WARN_CHECK,
        passed=verdict.passed,
        severity=SEVERITY[verdict.severity],
        metadata={**verdict.summary(), "psi": dg.MetadataValue.md(drift.to_markdown(index=False))},
    )


@dg.asset(
    key=["ml", "recommendations"],
    deps=[INTERACTIONS, FEATURES, dg.AssetKey(["ml", "models", "recommendations"])],
    group_name="ml",
    pool=DUCKDB_POOL,
    kinds={"python", "duckdb"},
    description="Top products per customer (item-to-item collaborative filtering, popularity fallback), "
    "never what they already bought nor inactive products.",
)
def recommendations(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    model_store: ModelStoreResource,
    config: AsOfConfig,
):
    from ml.champion import score_recommendations
    from ml.features import latest_customers

    as_of = pd.Timestamp(resolve_as_of(context, config))
    with warehouse.session():
        interactions = warehouse.frame("select * from marts.ml_interactions")
        customers = latest_customers(
            warehouse.frame("select customer_key, feature_as_of from marts.customer_features")
        )
        with _champions_or_fail():
            table = score_recommendations(
                interactions, customers, ModelRegistry(model_store.path), as_of=as_of
            )
        counts = warehouse.replace_tables("ml", {"recommendations": table})
    return dg.MaterializeResult(metadata={"rows": counts["recommendations"], **recommendation_summary(table)})


ml_assets = [*training_assets, cluster_customers, score_customers_asset, recommendations]
