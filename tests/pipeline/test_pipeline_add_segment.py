"""The analyst's loop, walked literally: the commands and the SQL of the README's "Segments as code"
section are read from the README itself and run on the command line (`make segment`, `make dbt`,
`make publish`) in a copy of the repository, against a copy of the demo warehouse. The new segment
must reach the catalog, the membership, its audience and the published snapshot, at the
warehouse's own as_of (never a fresh "now")."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import duckdb

from warehouse.context import PROJECT_DIR
from warehouse.segments import SEGMENTS_DIR, SEGMENTS_YAML_NAME

README = PROJECT_DIR / "README.md"


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end]


def _blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.S)


def _copy_repository(destination: Path) -> None:
    """The tracked files, modification times kept (so make sees the environment as set up), and the
    project's own environment linked in."""
    tracked = subprocess.run(
        ["git", "-C", str(PROJECT_DIR), "ls-files"], capture_output=True, text=True, check=True
    ).stdout.split()
    for name in tracked:
        source = PROJECT_DIR / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    (destination / ".venv").symlink_to(PROJECT_DIR / ".venv")


def _run(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    completed = subprocess.run(
        shlex.split(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    assert completed.returncode == 0, f"{command}\n{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    return completed


def test_the_readme_segment_recipe_followed_literally(demo_run, tmp_path):
    section = _section(README.read_text(), "Segments as code")
    commands = [
        line.split("#")[0].strip()
        for block in _blocks(section, "bash")
        for line in block.splitlines()
        if line.strip().startswith("make ")
    ]
    [sql] = _blocks(section, "sql")
    sql_path = re.match(r"-- (\S+)\n", sql).group(1)
    assert [c.split()[1] for c in commands] == ["segment", "dbt", "publish"], commands

    project = tmp_path / "project"
    _copy_repository(project)
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_run.warehouse, warehouse)
    env = {
        **os.environ,
        "AW_WAREHOUSE_PATH": str(warehouse),
        "AW_LANDING_DIR": str(demo_run.landing),
        "AW_PUBLISHED_PATH": str(tmp_path / "published" / "warehouse.duckdb"),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        # The environment is the project's own, linked in: `uv run` must not install the copy into
        # it, where the other test workers would import the copy (or nothing, mid-install).
        "UV_NO_SYNC": "1",
    }
    env.pop("AW_AS_OF", None)

    _run(commands[0], project, env)
    assert (project / sql_path).exists(), "make segment writes the SQL file"
    (project / sql_path).write_text(sql)
    built = _run(commands[1], project, env)
    assert "as_of 2026-06-30 00:00:00 UTC (from the warehouse's last successful run)" in built.stdout
    _run(commands[2], project, env)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        expected = con.execute(
            "select count(*) from marts.customer_profiles where lifetime_revenue >= 500 "
            "and last_order_at >= timestamp '2025-06-30'"
        ).fetchone()[0]
        catalog = con.execute(
            "select members, owner, priority, offer from marts.segments where segment_name = 'big_spenders'"
        ).fetchone()
        members = con.execute(
            "select count(*) from marts.segment_membership where segment_name = 'big_spenders'"
        ).fetchone()[0]
        listed = con.execute(
            "select count(*) from audiences.audience_candidates where segment_name = 'big_spenders'"
        ).fetchone()[0]
        as_of = con.execute("select distinct as_of from marts.segment_membership").fetchall()
    assert expected > 0
    assert catalog == (expected, "crm-team", 9, "A thank-you gift with your next order")
    assert members == expected
    assert listed > 0, "the new segment reaches its audience"
    assert [row[0].isoformat() for row in as_of] == ["2026-06-30T00:00:00"]
    with duckdb.connect(str(tmp_path / "published" / "warehouse.duckdb"), read_only=True) as snapshot:
        published = snapshot.execute(
            "select members from marts.segments where segment_name = 'big_spenders'"
        ).fetchone()
    assert published == (expected,)


def _plain_dbt(
    project: Path, demo_warehouse: Path, tmp_path: Path, *arguments: str
) -> subprocess.CompletedProcess:
    """Plain `dbt <arguments>` in the copied project, on a copy of the demo warehouse, as an analyst
    runs it (no make, no segment refresh); the caller reads the return code and the output."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copy(demo_warehouse, warehouse)
    dbt = PROJECT_DIR / ".venv" / "bin" / "dbt"
    return subprocess.run(
        [str(dbt), *arguments, "--project-dir", str(project)],
        cwd=project,
        env={**os.environ, "AW_WAREHOUSE_PATH": str(warehouse), "DBT_PROFILES_DIR": str(project)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_segment_written_by_hand_without_make_segments_is_a_clear_error(demo_run, tmp_path):
    """Analysts who skip the scaffold and run plain dbt are told what to run."""
    project = tmp_path / "project"
    _copy_repository(project)
    segments_dir = project / SEGMENTS_DIR.relative_to(PROJECT_DIR)
    (segments_dir / "by_hand.sql").write_text("select customer_key from {{ ref('customer_profiles') }}\n")
    yaml = segments_dir / SEGMENTS_YAML_NAME
    yaml.write_text(
        yaml.read_text()
        + "\n  - name: by_hand\n    description: Everyone.\n    config:\n      meta:\n        segment:\n"
        "          owner: me\n          priority: 50\n          target_list: by_hand\n"
        "          campaign_group: lifecycle\n"
    )
    completed = _plain_dbt(
        project, demo_run.warehouse, tmp_path, "build", "-s", "by_hand", "segment_membership"
    )
    assert completed.returncode != 0
    assert "run `make segments`" in completed.stdout


def test_a_campaign_group_of_triggered_and_daily_segments_is_a_clear_error(demo_run, tmp_path):
    """The triggered_audiences job syncs the triggered lists only: a group that mixed them with daily
    ones would leave a customer who moved between its lists in two of them until the daily run."""
    project = tmp_path / "project"
    _copy_repository(project)
    yaml = project / SEGMENTS_DIR.relative_to(PROJECT_DIR) / SEGMENTS_YAML_NAME
    text = yaml.read_text()
    assert text.count("      tags: [triggered]\n") == 3
    yaml.write_text(text.replace("      tags: [triggered]\n", "", 1))
    completed = _plain_dbt(project, demo_run.warehouse, tmp_path, "compile", "-s", "segments")
    assert completed.returncode != 0
    assert "campaign group abandonment mixes triggered and daily segments" in completed.stdout
