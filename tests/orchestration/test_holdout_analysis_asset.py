"""The holdout_analysis asset, materialized by Dagster on a real DuckDB warehouse: a content test's
arms are compared per segment and pooled, and an arm with few converters is a logged warning."""

from __future__ import annotations

import dagster as dg
import duckdb

from orchestration.assets.activation import holdout_analysis
from orchestration.resources import WarehouseResource
from tests.activation.helpers import content_test


def test_the_asset_writes_per_segment_and_pooled_comparisons_and_warns_about_few_converters(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    assignments, purchases, layout = content_test()
    with duckdb.connect(str(warehouse)) as con:
        for schema, table, frame in (
            ("activation", "holdout_assignments", assignments),
            ("audiences", "audience_purchases", purchases),
            ("audiences", "audience_campaign_arms", layout),
        ):
            con.execute(f"create schema if not exists {schema}")
            con.register("incoming", frame)
            con.execute(f"create table {schema}.{table} as select * from incoming")
            con.unregister("incoming")
    config = {"as_of": "2026-06-30", "min_converters": 40, "bootstrap_resamples": 500}
    result = dg.materialize(
        [holdout_analysis],
        resources={"warehouse": WarehouseResource(warehouse_path=str(warehouse))},
        run_config={"ops": {"activation__holdout_analysis": {"config": config}}},
    )
    assert result.success
    metadata = result.asset_materializations_for_node("activation__holdout_analysis")[0].metadata
    assert metadata["content_tests"].value == 1 and metadata["few_converter_arms"].value == 2
    assert "browse/control: 24 converters" in metadata["warnings"].value
    with duckdb.connect(str(warehouse), read_only=True) as con:
        per_segment = con.execute(
            "select segment_name, arm, reference_arm, p_value_holm, revenue_diff_ci_bootstrap_low "
            "from activation.holdout_analysis order by 1, 2, 3"
        ).fetchall()
        pooled = con.execute("select count(*) from activation.content_test_analysis").fetchone()[0]
    assert len(per_segment) == 6 and pooled == 3
    assert all(row[3] is not None and row[4] is not None for row in per_segment)
