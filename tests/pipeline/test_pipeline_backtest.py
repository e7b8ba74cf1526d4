"""The backtest job end to end on generated data: a warehouse of its own built at a past as_of
from the full landing files, trained and scored there, its scores compared with the purchases
that followed, next to the naive baselines."""

from __future__ import annotations

import pytest

from datagen import GeneratorConfig, generate
from orchestration.backtest import BacktestRun, BacktestSetupError, prepare, run_backtest
from tests.pipeline.helpers import query

BACKTEST_AS_OF = "2026-04-01T00:00:00"


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest_data")
    generate(
        GeneratorConfig(out=root / "landing", truth_out=root / "truth", scale="tiny", seed=7, progress=False)
    )
    return root / "landing"


def test_backtest_job_scores_the_past_and_compares_with_what_followed(landing, tmp_path):
    run = BacktestRun(as_of=BACKTEST_AS_OF, horizons="30,60", landing=landing, out=tmp_path / "backtest")

    assert run_backtest(run) == 0

    (as_of,) = query(run.warehouse, "select max(as_of) from audit.run_context where succeeded")[0]
    assert str(as_of) == "2026-04-01 00:00:00"
    (late,) = query(
        run.warehouse,
        "select count(*) from intermediate.int_orders_attributed where ordered_at >= '2026-04-01'",
    )[0]
    assert late == 0, "the backtest warehouse saw orders placed after its as_of"
    rows = query(
        run.warehouse,
        "select horizon_days, task, scorer, metric, value from ml.backtest_results order by all",
    )
    found = {(h, task, scorer, metric) for h, task, scorer, metric, _ in rows}
    for horizon in (30, 60):
        for scorer in ("model", "recency", "frequency", "rfm_score", "historic_spend"):
            assert (horizon, "purchase", scorer, "roc_auc") in found
            assert (horizon, "purchase", scorer, "top_decile_lift") in found
            assert (horizon, "churn", scorer, "roc_auc") in found
            assert (horizon, "value", scorer, "spearman") in found
    assert (30, "purchase", "model", "brier") in found
    assert all(0 <= value <= 1 for _, _, _, metric, value in rows if metric.endswith("_auc"))
    report = run.report_path.read_text()
    assert "ROC AUC" in report and "historic_spend" in report and "Calibration" in report
    assert not (tmp_path / "backtest" / "published").exists(), "a backtest publishes nothing"
    assert not (tmp_path / "backtest" / "activation").exists(), "a backtest exports to no ESP"


def test_a_backtest_refuses_the_working_warehouse_and_foreign_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(tmp_path / "work" / "warehouse.duckdb"))
    with pytest.raises(BacktestSetupError, match="working warehouse"):
        prepare(BacktestRun(as_of=BACKTEST_AS_OF, horizons="30", landing=tmp_path, out=tmp_path / "work"))
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(BacktestSetupError, match="no backtest made"):
        prepare(BacktestRun(as_of=BACKTEST_AS_OF, horizons="30", landing=tmp_path, out=tmp_path / "mine"))
