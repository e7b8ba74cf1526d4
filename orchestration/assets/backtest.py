"""The backtest asset: after the warehouse was built, trained and scored at a past as_of, compare
its scores with what the customers did after it (ml.backtest). This module only reads the tables,
calls ml.backtest, writes `ml.backtest_results` and the markdown report, and shows the figures.
ml.backtest imports scikit-learn: it is imported in the step, not by every step process that loads
the definitions (orchestration/assets/ml.py says why)."""

import os
from pathlib import Path

import dagster as dg
import pandas as pd

from orchestration.assets.ml import FEATURES, LABELS, inline_plots
from orchestration.resources import DUCKDB_POOL, WarehouseResource, resolve_as_of

SCORES = dg.AssetKey(["ml", "customer_scores"])
RFM = dg.AssetKey(["marts", "customer_rfm"])
ORDERS = dg.AssetKey(["staging", "stg_orders__orders"])
IDENTIFIERS = dg.AssetKey(["intermediate", "int_identifiers_mapped"])
CRM_VERSIONS = dg.AssetKey(["intermediate", "int_contact_versions_tracked"])
CUSTOMERS = dg.AssetKey(["intermediate", "int_customers_resolved"])
BACKTEST_KEY = dg.AssetKey(["ml", "backtest_results"])
BACKTEST_GROUP = "backtest"
HORIZONS_ENV = "AW_BACKTEST_HORIZONS"
REPORT_ENV = "AW_BACKTEST_REPORT"
REPORT_TITLE_ENV = "AW_BACKTEST_TITLE"

# Purchases after as_of as finally known: staging holds every landed order whatever the as_of, and
# the identity resolved at as_of says whose they are (a customer first seen later is no one here).
FUTURE_PURCHASES_SQL = """
with contact_keys as (
    select identifier_value as contact_id, customer_key
    from intermediate.int_identifiers_mapped where identifier_type = 'contact_id'
),
email_keys as (
    select identifier_value as email, customer_key
    from intermediate.int_identifiers_mapped where identifier_type = 'email'
)
select
    coalesce(contact_keys.customer_key, case when orders.contact_id is null then email_keys.customer_key end)
        as customer_key,
    orders.ordered_at,
    cast(orders.total_reporting as double) as revenue
from staging.stg_orders__orders as orders
left join contact_keys on orders.contact_id = contact_keys.contact_id
left join email_keys on orders.email = email_keys.email
where orders.is_purchase and orders.ordered_at >= ?
"""


# The CRM versions each customer's features read (its canonical contact's), for the validator.
CRM_VERSIONS_SQL = """
select customers.customer_key, versions.valid_from, versions.country_code as country,
    versions.loyalty_tier, versions.income_band
from intermediate.int_contact_versions_tracked as versions
inner join intermediate.int_customers_resolved as customers on versions.contact_id = customers.contact_id
"""


class BacktestConfig(dg.Config):
    """The backtest's as_of (empty: AW_AS_OF, as for every step), its horizons in days (empty:
    AW_BACKTEST_HORIZONS, else 30,90) and where the markdown report goes (empty:
    AW_BACKTEST_REPORT, else backtest_report.md beside the warehouse)."""

    as_of: str = ""
    horizons: str = ""
    report_path: str = ""


def _report_path(config: BacktestConfig, warehouse: WarehouseResource) -> Path:
    text = config.report_path or os.environ.get(REPORT_ENV, "")
    return Path(text) if text else warehouse.path.parent / "backtest_report.md"


@dg.asset(
    key=BACKTEST_KEY,
    deps=[SCORES, FEATURES, LABELS, RFM, ORDERS, IDENTIFIERS, CRM_VERSIONS, CUSTOMERS],
    group_name=BACKTEST_GROUP,
    pool=DUCKDB_POOL,
    kinds={"python", "duckdb"},
    description="The scores at as_of against what happened after it: ROC/PR AUC, top-decile lift, "
    "calibration, churn AUC and CLV Spearman per horizon, next to the recency, frequency, RFM and "
    "historic-spend baselines, after checking the features point in time (ml.point_in_time). Run it "
    "in a backtest warehouse (`make backtest`), never the demo's.",
)
def backtest_results(context: dg.AssetExecutionContext, warehouse: WarehouseResource, config: BacktestConfig):
    from ml.backtest import BacktestError, evaluate, parse_horizons, render_markdown, scored_population
    from ml.features import CUTOFF, KEY
    from ml.point_in_time import LABEL, LeakageError, validate_point_in_time

    as_of = resolve_as_of(context, config)
    horizons = parse_horizons(config.horizons or os.environ.get(HORIZONS_ENV, "") or "30,90")
    labelled = warehouse.frame(
        f"select features.*, labels.{LABEL} from marts.customer_features as features "
        f"inner join marts.customer_labels as labels using ({KEY}, {CUTOFF})"
    )
    try:
        validate_point_in_time(labelled, crm_versions=warehouse.frame(CRM_VERSIONS_SQL))
    except LeakageError as error:
        raise dg.Failure(description=f"the features of this backtest leak: {error}") from error
    scores = warehouse.frame("select * from ml.customer_scores")
    features = warehouse.frame(
        "select * from marts.customer_features "
        "where feature_as_of = (select max(feature_as_of) from marts.customer_features)"
    )
    rfm = warehouse.frame("select customer_key, r_score, f_score, m_score from marts.customer_rfm")
    purchases = warehouse.frame(FUTURE_PURCHASES_SQL, [as_of])
    until = warehouse.frame("select max(ordered_at) as until from staging.stg_orders__orders")["until"].iloc[
        0
    ]
    try:
        result = evaluate(
            scored_population(scores, features, rfm),
            purchases[purchases["customer_key"].notna()],
            as_of=as_of,
            horizons=horizons,
            purchases_until=until,
        )
    except BacktestError as error:
        raise dg.Failure(description=str(error)) from error
    counts = warehouse.replace_tables("ml", {"backtest_results": result.table})
    title = os.environ.get(REPORT_TITLE_ENV, "") or f"Backtest as of {pd.Timestamp(as_of).date()}"
    report = render_markdown(
        result,
        title=title,
        notes=[f"Warehouse `{warehouse.path.name}`, landed purchases until {until}."],
    )
    path = _report_path(config, warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report)
    context.log.info("backtest report written to %s", path)
    return dg.MaterializeResult(
        metadata={
            "rows": counts["backtest_results"],
            "point_in_time": "features and CRM attributes checked at every labelled cutoff",
            "report_path": str(path),
            "report": dg.MetadataValue.md(report),
            **inline_plots(result.plots),
        }
    )
