"""Adding a segment is one SQL file plus its YAML entry (README, "Add a segment"): done here on a copy
of the dbt project, against a copy of the demo warehouse, with nothing else changed, built with dbt
alone in the two steps the README gives (Dagster orders them by itself)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from landing.contract import PROJECT_DIR
from tests.pipeline.helpers import query

NEW_SEGMENT_SQL = """
select customer_key
from {{ ref('customer_profiles') }}
where lifetime_revenue >= 500
"""

NEW_SEGMENT_YAML = """
  - name: big_spenders
    description: Spent 500 or more in all.
    config:
      meta:
        segment:
          owner: crm-team
          priority: 9
          target_list: big_spenders
          campaign_group: lifecycle
          offer: A thank-you gift with your next order
    columns:
      - name: customer_key
        description: Member.
        data_tests: [unique, not_null]
"""


def _dbt(*arguments: str) -> subprocess.CompletedProcess:
    """The dbt CLI in its own process, as Dagster runs it (in-process dbt keeps DuckDB open)."""
    dbt = Path(sys.executable).with_name("dbt")
    return subprocess.run([str(dbt), *arguments], capture_output=True, text=True, check=False)


def _copy_project(destination):
    for folder in ("models", "macros", "seeds", "tests/dbt"):
        shutil.copytree(PROJECT_DIR / folder, destination / folder)
    for file in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(PROJECT_DIR / file, destination / file)


def test_a_new_segment_file_and_yaml_entry_appear_in_the_catalog_and_membership(
    demo_run, tmp_path, monkeypatch
):
    project = tmp_path / "project"
    _copy_project(project)
    (project / "models" / "segments" / "big_spenders.sql").write_text(NEW_SEGMENT_SQL)
    segments_yaml = project / "models" / "segments" / "_segments.yml"
    text = segments_yaml.read_text()
    insert_at = text.index("\nunit_tests:")
    segments_yaml.write_text(text[:insert_at] + NEW_SEGMENT_YAML + text[insert_at:])
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, warehouse)
    monkeypatch.setenv("AW_WAREHOUSE_PATH", str(warehouse))

    dbt_arguments = [
        "--project-dir", str(project), "--profiles-dir", str(project),
        "--vars", f'{{"as_of": "{demo_run.as_of.isoformat()}"}}',
    ]  # fmt: skip
    catalog_first = _dbt("build", *dbt_arguments, "--select", "tag:segment_catalog")
    assert catalog_first.returncode != 0
    assert "Segment big_spenders has not been built yet" in catalog_first.stdout

    segment = _dbt("build", *dbt_arguments, "--select", "big_spenders")
    assert segment.returncode == 0, segment.stdout[-3000:]
    catalog = _dbt("build", *dbt_arguments, "--select", "tag:segment_catalog+")
    assert catalog.returncode == 0, catalog.stdout[-3000:]
    expected = query(warehouse, "select count(*) from marts.customer_profiles where lifetime_revenue >= 500")[
        0
    ][0]
    assert expected > 0
    entry = query(
        warehouse,
        "select members, owner, priority, target_list, campaign_group, offer, defined_in "
        "from marts.segments where segment_name = 'big_spenders'",
    )
    assert entry == [
        (
            expected, "crm-team", 9, "big_spenders", "lifecycle", "A thank-you gift with your next order",
            "models/segments/big_spenders.sql",
        )
    ]  # fmt: skip
    members = query(
        warehouse, "select count(*) from marts.segment_membership where segment_name = 'big_spenders'"
    )
    assert members == [(expected,)]
    existing_segments = len(list((PROJECT_DIR / "models" / "segments").glob("*.sql")))
    assert len(query(warehouse, "select * from marts.segments")) == existing_segments + 1
