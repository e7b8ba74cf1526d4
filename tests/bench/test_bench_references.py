"""The three-way equality of issue 12: on a tiny clean warehouse (datagen --dirt none, one dbt
build of the models the core marts need, the bench's own build path), the hand-written DuckDB
floor and the pandas reference compute the same customer profiles, RFM, engagement tiers and
segment membership as dbt (bench/references/compare.py says what "the same" means). Clean data,
because the references skip identity resolution and dirt handling; dbt runs unchanged.

Cost: 37 s measured on the shared 2-core machine at load average 5 (almost all of it the fixture:
generation, landing step, dbt parse and a build of 57 seeds and models; each reference under 1 s)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest

from bench.bench_references import AS_OF, build_with_dbt, disagreements
from bench.references.compare import compare, dbt_marts
from bench.references.floor import run_floor
from bench.references.inputs import SEGMENTS, inputs_for
from bench.references.pandas_marts import run_pandas
from warehouse.context import PROJECT_DIR

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("references")
    landing = root / "generated"
    command = [sys.executable, "-m", "datagen", "--scale", "tiny", "--seed", "7", "--dirt", "none"]
    subprocess.run(
        [*command, "--as-of", AS_OF, "--out", str(landing), "--quiet"], cwd=PROJECT_DIR, check=True
    )
    project, _ = build_with_dbt(landing, root)
    inputs = inputs_for(project.landing, dt.datetime.fromisoformat(AS_OF))
    computed = {"floor": run_floor(inputs), "pandas": run_pandas(inputs)}
    return project.root / "warehouse.duckdb", computed


def test_floor_and_pandas_compute_the_dbt_marts(built):
    warehouse, computed = built
    agreements = disagreements(computed, warehouse)
    for agreement in agreements.values():
        assert agreement, f"{agreement.reference} disagrees with dbt:\n" + "\n".join(agreement.problems)
    floor = computed["floor"]
    assert len(floor["customer_profiles"]) == 300
    assert (floor["customer_profiles"]["lifetime_orders"] > 0).sum() > 100
    assert floor["customer_rfm"]["rfm_segment"].nunique() >= 5
    assert set(floor["segment_membership"]["segment_name"]) >= set(SEGMENTS) - {"engaged_but_inactive"}


def test_the_comparison_names_a_cent_too_much_a_missing_customer_and_a_wrong_tier(built):
    warehouse, computed = built
    changed = {mart: frame.copy() for mart, frame in computed["pandas"].items()}
    profiles = changed["customer_profiles"]
    buyer = profiles.index[profiles["lifetime_orders"] > 0][0]
    profiles.loc[buyer, "lifetime_revenue"] += 0.02
    changed["customer_rfm"] = changed["customer_rfm"].iloc[1:]
    engagement = changed["customer_engagement"]
    engagement.loc[engagement.index[0], "engagement_tier"] = "Highly engaged?"
    columns = {mart: list(frame.columns) for mart, frame in computed["floor"].items()}
    problems = "\n".join(compare("pandas", changed, dbt_marts(warehouse, columns)).problems)
    assert "customer_profiles.lifetime_revenue: 1 rows differ" in problems
    assert "customer_rfm: 1 keys only in dbt" in problems
    assert "customer_engagement.engagement_tier: 1 rows differ" in problems
