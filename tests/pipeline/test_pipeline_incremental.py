"""Incremental staging (issue 12) gives exactly what a full build gives: the generated data lands as
a history and three daily batches, dbt runs after each (the staging of web and e-mail events and
orders parses only the new files), and the last batch carries the erasure of a person whose rows
were staged from the history and rewrites a history file of web events with no rows. Then one full
build on the same landing folder, into a new warehouse: every mart, every incremental table, the
quarantine and the source reconciliation must hold the same rows, and the erased person none."""

from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from datagen import GeneratorConfig, generate
from landing.days import split_landing_by_day
from landing.register import register_for_engine

REPO = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 6, 30)
DAYS = [AS_OF - timedelta(days=k) for k in (3, 2, 1)]
INCREMENTAL_MODELS = {
    "staging": [
        "base_web__events",
        "stg_web__events",
        "base_email__events",
        "stg_email__events",
        "base_orders__orders",
        "stg_orders__orders",
    ]
}
AUDIT_TABLES = {"audit": ["quarantined_rows", "source_reconciliation"]}
# The marts the incremental tables feed (customers, campaigns, ML inputs), the quarantine and the
# reconciliation, and everything upstream of them; the segments and audiences read these marts.
MART_FOLDERS = ("customers", "campaigns", "ml_inputs")
SELECTION = [
    *(f"+path:models/marts/{folder}" for folder in MART_FOLDERS),
    "+quarantined_rows",
    "+source_reconciliation",
]
# When the build parsed a row: the one column the two warehouses may differ in.
PARSE_BATCH_COLUMNS = {"_parsed_at"}


def _release_warehouse() -> None:
    """dbt-duckdb keeps the warehouse open in the process after an in-process invocation: closed,
    so that the landing step and the test's reads can open it."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def _build(landing: Path, warehouse: Path, as_of: date, first: bool, work: Path) -> None:
    """The landing step and dbt on the selection, as `make dbt` runs them, in this process (one
    dbt import for every build): the first build of a warehouse loads the seeds too (`dbt build`
    without tests), the next ones are `dbt run`."""
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AW_LANDING_DIR", str(landing))
        patch.setenv("AW_WAREHOUSE_PATH", str(warehouse))
        patch.setenv("AW_AS_OF", as_of.isoformat())
        patch.setenv("DBT_PROFILES_DIR", str(REPO))
        register_for_engine(warehouse, landing)
        step = ["build", "--exclude-resource-type", "test", "--exclude-resource-type", "unit_test"]
        places = ["--project-dir", str(REPO), "--target-path", str(work / "target")]
        places += ["--log-path", str(work / "logs")]
        arguments = [*(step if first else ["run"]), "--quiet", *places, "--select", *SELECTION]
        try:
            result = dbtRunner().invoke(arguments)
        finally:
            _release_warehouse()
    failed = [f"{r.node.name}: {r.message}" for r in (result.result or []) if str(r.status) != "success"]
    assert result.success, failed or result.exception


def _person_staged_everywhere(warehouse: Path) -> dict[str, str]:
    """A contact with web events, e-mail events and orders in the incremental staging tables."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        contact_id, email = con.execute(
            """
            select orders.contact_id, any_value(orders.email)
            from staging.stg_orders__orders as orders
            join staging.stg_web__events as web using (contact_id)
            join staging.stg_email__events as mail using (contact_id)
            where orders.email is not null
            group by orders.contact_id
            order by count(*) desc, orders.contact_id
            limit 1
            """
        ).fetchone()
    return {"contact_id": contact_id, "email": email}


def _write_erasure_request(folder: Path, person: dict[str, str], day: date) -> None:
    path = folder / "privacy" / f"requests_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["request_id", "contact_id", "email", "request_type", "requested_at"])
        writer.writerow(["PR-INCR-1", person["contact_id"], person["email"], "erasure", f"{day}T09:00:00Z"])


def _history_file_without(landing: Path, table: str, contact_id: str) -> Path:
    """A history Parquet file of `table` (e.g. web/events) whose rows do not name the person
    erased later (their rows must stay for the erasure to remove)."""
    for path in sorted((landing / table).glob("*.parquet")):
        history = not any(str(day) in path.name for day in DAYS)
        if history and contact_id not in pq.read_table(path, columns=["contact_id"]).column(0).to_pylist():
            return path
    raise AssertionError(f"every {table} history file names {contact_id}")


def _rewrite_without_rows(path: Path) -> None:
    """The file rewritten with its columns and no rows, as an extract job that re-exports a part
    with nothing left in it would: the staged rows it held must go, as from a full build."""
    pq.write_table(pq.read_table(path).slice(0, 0), path)


def _compared_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """Every table of the marts schema the full build made, the incremental tables and the audit."""
    marts = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = 'full_build' and schema_name = 'marts' order by 1, 2"
    ).fetchall()
    named = [
        (schema, table)
        for tables in (INCREMENTAL_MODELS, AUDIT_TABLES)
        for schema, names in tables.items()
        for table in names
    ]
    return marts + named


def _differences(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> tuple[int, int, int]:
    """(rows, rows only in the full build, rows only after the increments), compared as multisets."""
    columns = [
        row[0]
        for row in con.execute(
            "select column_name from duckdb_columns() "
            "where database_name = 'full_build' and schema_name = ? and table_name = ? order by column_index",
            [schema, table],
        ).fetchall()
        if row[0] not in PARSE_BATCH_COLUMNS
    ]
    listed = ", ".join(f'"{c}"' for c in columns)

    def only_in(left: str, right: str) -> int:
        return con.execute(
            f'select count(*) from (select {listed} from {left}."{schema}"."{table}" '
            f'except all select {listed} from {right}."{schema}"."{table}")'
        ).fetchone()[0]

    rows = con.execute(f'select count(*) from full_build."{schema}"."{table}"').fetchone()[0]
    return rows, only_in("full_build", "incremental"), only_in("incremental", "full_build")


@pytest.fixture(scope="module")
def incremental_and_full(tmp_path_factory):
    """The incremental warehouse and the full build's, both built at the same path (one dbt
    profile, so dbt parses the project once), and the person erased on the last day."""
    root = tmp_path_factory.mktemp("incremental")
    config = GeneratorConfig(
        out=root / "generated", truth_out=root / "truth", scale="tiny", seed=7, progress=False
    )
    generate(config)
    split = split_landing_by_day(root / "generated", root / "split", DAYS)
    landing, warehouse = root / "landing", root / "warehouse.duckdb"
    shutil.copytree(split.history, landing)
    _build(landing, warehouse, DAYS[0], first=True, work=root)
    person = _person_staged_everywhere(warehouse)
    _write_erasure_request(split.days[DAYS[-1]], person, DAYS[-1])
    for day in DAYS:
        shutil.copytree(split.days[day], landing, dirs_exist_ok=True)
        if day == DAYS[-1]:
            _rewrite_without_rows(_history_file_without(landing, "web/events", person["contact_id"]))
        _build(landing, warehouse, day + timedelta(days=1), first=False, work=root)
    incremental = warehouse.rename(root / "incremental.duckdb")
    _build(landing, warehouse, AS_OF, first=True, work=root)
    return incremental, warehouse.rename(root / "full.duckdb"), person


def test_daily_incremental_runs_give_the_full_build_row_for_row(incremental_and_full):
    incremental, full, _ = incremental_and_full
    with duckdb.connect() as con:
        con.execute(f"attach '{incremental}' as incremental (read_only)")
        con.execute(f"attach '{full}' as full_build (read_only)")
        compared = {f"{s}.{t}": _differences(con, s, t) for s, t in _compared_tables(con)}
    differing = {name: d for name, d in compared.items() if d[1] or d[2]}
    assert differing == {}
    assert all(compared[f"staging.{m}"][0] > 0 for m in INCREMENTAL_MODELS["staging"])
    assert {f"marts.{m}" for m in ("customer_profiles", "customer_rfm", "customer_engagement")} <= set(
        compared
    )


def test_each_daily_run_parsed_only_its_new_files(incremental_and_full):
    """Every history file keeps the history build's parse time (no later run parsed it again), and
    every day's file was parsed later, once; each daily run parsed something."""
    incremental, _, _ = incremental_and_full
    batches = set()
    with duckdb.connect(str(incremental), read_only=True) as con:
        for model in INCREMENTAL_MODELS["staging"][::2]:
            files = con.execute(
                f"select _landing_file, min(_parsed_at), max(_parsed_at) from staging.{model} group by 1"
            ).fetchall()
            first = min(parsed for _, parsed, _ in files)
            later = {name for name, parsed, last in files if parsed == last and parsed > first}
            from_days = {name for name, _, _ in files if any(str(day) in Path(name).name for day in DAYS)}
            assert later == from_days, model
            batches |= {parsed for _, parsed, _ in files}
    assert len(batches) == 1 + len(DAYS)


def test_a_person_erased_after_their_rows_were_staged_is_gone_from_every_incremental_table(
    incremental_and_full,
):
    """The person had web events, e-mail events and orders staged by the history build (chosen so);
    the erasure landed with the last day: that run left none of their rows, and the reconciliation
    counts them as erased, every landed row accounted for."""
    incremental, _, person = incremental_and_full
    with duckdb.connect(str(incremental), read_only=True) as con:
        left = {}
        for model in INCREMENTAL_MODELS["staging"]:
            columns = ["contact_id"] if "web" in model else ["contact_id", "email"]
            matches = " or ".join(f"{column} = ${column}" for column in columns)
            left[model] = con.execute(
                f"select count(*) from staging.{model} where {matches}",
                {column: person[column] for column in columns},
            ).fetchone()[0]
        reconciled = con.execute(
            "select source_name || '.' || table_name, rows_erased, rows_unaccounted "
            "from audit.source_reconciliation"
        ).fetchall()
    assert left == dict.fromkeys(INCREMENTAL_MODELS["staging"], 0)
    erased = {name: rows for name, rows, _ in reconciled}
    assert all(erased[name] > 0 for name in ("web.events", "email.events", "orders.orders")), erased
    assert {name: unaccounted for name, _, unaccounted in reconciled if unaccounted} == {}
