"""The Online Retail backtest on the shared data set, as `--backtest` runs it: the export mapped
whole (no cut at the as_of), the warehouse built at 2011-09-09 in a folder of its own, trained,
scored and compared with the 30 and 90 days that followed. It runs on every line of the
customers with an even CustomerID (half of them; guests, whom no feature or label reads, left
out), which makes the mapping and training cheaper (dbt's build, about the same either way, stays
most of its cost), so its figures are the subset's, not those of docs/backtest_online_retail.md.

Before the point-in-time fixes a customer first recorded later had no country at that as_of (on
the whole export 1,956 of 3,392 customers), so "country is null" meant "will buy" and the
propensity's ROC AUC read 0.80 (30 days) and 0.86 (90 days); now only the spellings without an ISO
code (Channel Islands, Unspecified, European Community) lack a country, the features pass the
validator (the job fails otherwise), and the model stands level with RFM. Skipped, saying why,
where the shared data set is absent."""

from __future__ import annotations

import pytest

from examples.online_retail.__main__ import main
from examples.online_retail.config import load_mapping, read_export
from tests.pipeline.helpers import query

CONFIG = load_mapping()
SOURCE = CONFIG.default_source()
AS_OF = "2011-09-09"
# Purchase ROC AUC of the propensity on the whole export before the fixes (30 and 90 days).
LEAKY_ROC_AUC = {30: 0.797, 90: 0.860}

pytestmark = [
    pytest.mark.slow,  # builds the warehouse of the export and trains at a past as_of
    pytest.mark.skipif(
        not SOURCE.is_file(), reason=f"the shared data set is absent: {CONFIG.missing_source(SOURCE)}"
    ),
]


@pytest.fixture(scope="module")
def backtest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("online_retail")
    export = read_export(SOURCE, CONFIG)
    customer = export[CONFIG.columns["customer_id"]]
    half = export[customer.notna() & (customer.fillna(1) % 2 == 0)]
    subset = folder / "online_retail_even_customers.parquet"
    half.to_parquet(subset, index=False)
    out = folder / "out"
    assert main(["--source", str(subset), "--out", str(out), "--backtest", AS_OF, "--horizons", "30,90"]) == 0
    return out / "backtests" / AS_OF


def _metric(folder, horizon: int, task: str, scorer: str, metric: str) -> float:
    rows = query(
        folder / "warehouse.duckdb",
        "select value from ml.backtest_results "
        f"where horizon_days = {horizon} and task = '{task}' and scorer = '{scorer}' and metric = '{metric}'",
    )
    return rows[0][0]


def test_every_customer_scored_at_the_as_of_has_the_record_known_then(backtest):
    (scored, without_country) = query(
        backtest / "warehouse.duckdb",
        "select count(*), count(*) filter (where country is null) from marts.customer_features "
        "where feature_as_of = (select max(feature_as_of) from marts.customer_features)",
    )[0]
    assert scored > 1500
    assert without_country < 0.01 * scored, (
        "customers known at the as_of lack a CRM record: records dated later"
    )


def test_the_model_against_its_baselines_after_the_leaks_are_fixed(backtest):
    for horizon, leaky in LEAKY_ROC_AUC.items():
        model = _metric(backtest, horizon, "purchase", "model", "roc_auc")
        baselines = [
            _metric(backtest, horizon, "purchase", scorer, "roc_auc")
            for scorer in ("recency", "frequency", "rfm_score", "historic_spend")
        ]
        assert 0.65 < model < leaky - 0.03, (horizon, model)
        assert abs(model - max(baselines)) < 0.05, (horizon, model, baselines)
    report = (backtest / "backtest_report.md").read_text()
    assert "Backtest of the Online Retail example as of 2011-09-09" in report
    assert "| 90 d | value | Spearman |" in report
