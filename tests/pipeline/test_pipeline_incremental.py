"""Incremental staging (issue 12) gives exactly what a full build gives: the generated data lands as
a history and three daily batches, dbt runs after each (the staging of web and e-mail events,
orders and order lines parses only the new files, and the files of lines whose order changed), and
the middle batch lands, late, the order of history lines staged as orphans (their file must be
parsed again) and a CRM record withdrawing the tracking consent of a contact whose web events were
usable, and the last batch carries the erasure of a person whose rows (order lines too) were staged
from the history and rewrites a history file of web events with no rows. Then one full build on
the same landing folder, into a new warehouse: every mart, every incremental table (the web events
attributed and the sessions, incremental by visitor, too), the quarantine and the source
reconciliation must hold the same rows, the erased person none, and the withdrawn contact no usable
event."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from datagen import GeneratorConfig, generate
from datagen.tables.crm import CONTACT_COLUMNS
from datagen.tables.orders import ORDER_COLUMNS
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
        "base_orders__order_items",
        "stg_orders__order_items",
    ],
    "intermediate": ["int_web_events_attributed", "int_web_sessions_sessionized"],
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
# When the build parsed a row, or attributed a visitor's events: the columns the two warehouses may
# differ in.
PARSE_BATCH_COLUMNS = {"_parsed_at", "_attributed_at"}


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
    """A contact with web events, e-mail events, orders and order lines in the incremental staging
    tables."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        contact_id, email = con.execute(
            """
            select orders.contact_id, any_value(orders.email)
            from staging.stg_orders__orders as orders
            join staging.stg_web__events as web using (contact_id)
            join staging.stg_email__events as mail using (contact_id)
            where orders.email is not null
                and orders.order_id in (select order_id from staging.stg_orders__order_items)
            group by orders.contact_id
            order by count(*) desc, orders.contact_id
            limit 1
            """
        ).fetchone()
    return {"contact_id": contact_id, "email": email}


def _order_ids_of(warehouse: Path, person: dict[str, str]) -> list[str]:
    """The orders staged for the person: their lines name them by order id only."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select distinct order_id from staging.base_orders__orders "
            "where contact_id = $contact_id or email = $email order by 1",
            person,
        ).fetchall()
    return [order_id for (order_id,) in rows]


def _order_line_states(warehouse: Path) -> set[tuple]:
    """Each order line's file, row, parse time and what it took from its order when parsed."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return set(
            con.execute(
                "select _landing_file, _landing_row, _parsed_at, is_order_landed, is_order_valid, "
                "rate_to_reporting from staging.base_orders__order_items"
            ).fetchall()
        )


def _late_order(warehouse: Path, person: dict[str, str], day: date, folder: Path) -> str:
    """Lands, in `folder`, the order of history lines rejected only because their order had not
    landed: a copy of a valid history order (not the erased person's) under their order id. Returns
    that id."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        (order_id,) = con.execute(
            "select min(order_id) from staging.base_orders__order_items "
            "where rejection_rule = 'orphan_line_order_not_landed'"
        ).fetchone()
        (landed_row,) = con.execute(
            "select landed_row from staging.base_orders__orders where rejection_rule is null "
            "and contact_id is distinct from $contact_id and email is distinct from $email "
            "order by order_id limit 1",
            person,
        ).fetchone()
    row = {**json.loads(landed_row), "order_id": order_id}
    # Named to sort after the day's file and before the next day's: a CSV table's _landing_row is
    # its position over the files in name order (landing/register.py).
    path = folder / "orders" / f"orders_{day.isoformat()}_late.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=ORDER_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerow({column: row.get(column) or "" for column in ORDER_COLUMNS})
    return order_id


def _write_erasure_request(folder: Path, person: dict[str, str], day: date) -> None:
    path = folder / "privacy" / f"requests_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["request_id", "contact_id", "email", "request_type", "requested_at"])
        writer.writerow(["PR-INCR-1", person["contact_id"], person["email"], "erasure", f"{day}T09:00:00Z"])


def _withdraw_tracking_consent(
    warehouse: Path, person: dict[str, str], day: date, folders: list[Path]
) -> dict:
    """Lands, in the first of `folders`, a later CRM record of a contact whose web events are usable
    (not the erased person, and with no CRM record in any of the `folders`, which land later): their
    current record with tracking consent withdrawn on `day`. Returns the contact, their customer
    and how many of their events were usable before."""
    recorded_later = [
        row["contact_id"]
        for folder in folders
        for path in sorted((folder / "crm").rglob("*.csv"))
        for row in csv.DictReader(path.open(newline=""))
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        contact_id, customer_key, usable = con.execute(
            "select contact_id, any_value(customer_key), count(*) "
            "from intermediate.int_web_events_attributed "
            "where is_usable and contact_id is not null and contact_id <> $contact_id "
            "and not list_contains($later, contact_id) "
            "group by contact_id order by count(*) desc, contact_id limit 1",
            {"contact_id": person["contact_id"], "later": recorded_later},
        ).fetchone()
        (landed_row,) = con.execute(
            "select landed_row from staging.base_crm__contacts where rejection_rule is null "
            "and contact_id = ? order by updated_at desc limit 1",
            [contact_id],
        ).fetchone()
    row = {**json.loads(landed_row), "tracking_consent": "false", "updated_at": f"{day}T10:00:00Z"}
    path = folders[0] / "crm" / "contacts" / f"withdrawn_{day.isoformat()}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=CONTACT_COLUMNS, extrasaction="ignore", lineterminator="\n"
        )
        writer.writeheader()
        writer.writerow({column: row.get(column) or "" for column in CONTACT_COLUMNS})
    return {"contact_id": contact_id, "customer_key": customer_key, "usable_before": usable}


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
    profile, so dbt parses the project once), the person erased on the last day (with the ids of
    their orders) and the order lines as each incremental build left them."""
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
    order_ids = _order_ids_of(warehouse, person)
    order_lines = [_order_line_states(warehouse)]
    _write_erasure_request(split.days[DAYS[-1]], person, DAYS[-1])
    assert _late_order(warehouse, person, DAYS[1], split.days[DAYS[1]])
    withdrawn = _withdraw_tracking_consent(warehouse, person, DAYS[1], [split.days[day] for day in DAYS[1:]])
    for day in DAYS:
        shutil.copytree(split.days[day], landing, dirs_exist_ok=True)
        if day == DAYS[-1]:
            _rewrite_without_rows(_history_file_without(landing, "web/events", person["contact_id"]))
        _build(landing, warehouse, day + timedelta(days=1), first=False, work=root)
        order_lines.append(_order_line_states(warehouse))
    incremental = warehouse.rename(root / "incremental.duckdb")
    _build(landing, warehouse, AS_OF, first=True, work=root)
    full = warehouse.rename(root / "full.duckdb")
    return incremental, full, {**person, "order_ids": order_ids, "withdrawn": withdrawn}, order_lines


def test_daily_incremental_runs_give_the_full_build_row_for_row(incremental_and_full):
    incremental, full, _, _ = incremental_and_full
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
    every day's file was parsed later, once; each daily run parsed something. Order lines aside:
    their runs are checked by test_each_daily_run_parsed_only_new_order_lines_or_stale_ones."""
    incremental, _, _, _ = incremental_and_full
    batches = set()
    with duckdb.connect(str(incremental), read_only=True) as con:
        for model in INCREMENTAL_MODELS["staging"][::2]:
            files = con.execute(
                f"select _landing_file, min(_parsed_at), max(_parsed_at) from staging.{model} group by 1"
            ).fetchall()
            first = min(parsed for _, parsed, _ in files)
            later = {name for name, parsed, last in files if parsed == last and parsed > first}
            from_days = {name for name, _, _ in files if any(str(day) in Path(name).name for day in DAYS)}
            batches |= {parsed for _, parsed, _ in files}
            if model != "base_orders__order_items":
                assert later == from_days, model
    assert len(batches) == 1 + len(DAYS)


def test_each_daily_run_parsed_only_new_order_lines_or_stale_ones(incremental_and_full):
    """Each daily run parsed its day's files of order lines, and parsed an earlier file again only
    when one of its lines was parsed while its order stood otherwise than it stands now (landed,
    valid, rate): a line of that file is no longer in the table as the run before left it. The
    order landed late on the middle day makes one such file; the erasure on the last day none (the
    post-hook deletes the erased lines)."""
    _, _, _, order_lines = incremental_and_full
    parsed_again = {}
    for day, before, after in zip(DAYS, order_lines[:-1], order_lines[1:], strict=True):
        kept = {(file, parsed_at) for file, _, parsed_at, *_ in before}
        parsed = {file for file, _, parsed_at, *_ in after if (file, parsed_at) not in kept}
        new = {file for file, *_ in after if str(day) in Path(file).name}
        unchanged = {(file, row, *order) for file, row, _, *order in after}
        stale = {file for file, row, _, *order in before if (file, row, *order) not in unchanged}
        assert new and new <= parsed, day
        assert parsed - new <= stale, day
        parsed_again[day] = parsed - new
    assert [day for day, files in parsed_again.items() if files] == [DAYS[1]]


def test_a_person_erased_after_their_rows_were_staged_is_gone_from_every_incremental_table(
    incremental_and_full,
):
    """The person had web events, e-mail events, orders and order lines staged by the history
    build (chosen so); the erasure landed with the last day: that run left none of their rows (an
    order line names them by its order's id), and the reconciliation counts them as erased, every
    landed row accounted for."""
    incremental, _, person, _ = incremental_and_full
    assert person["order_ids"]
    with duckdb.connect(str(incremental), read_only=True) as con:
        left = {}
        for model in INCREMENTAL_MODELS["staging"]:
            if "order_items" in model:
                left[model] = con.execute(
                    f"select count(*) from staging.{model} where list_contains($order_ids, order_id)",
                    {"order_ids": person["order_ids"]},
                ).fetchone()[0]
                continue
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
    tables = ("web.events", "email.events", "orders.orders", "orders.order_items")
    assert all(erased[name] > 0 for name in tables), erased
    assert {name: unaccounted for name, _, unaccounted in reconciled if unaccounted} == {}


def test_tracking_consent_withdrawn_after_the_events_were_attributed_makes_none_usable(incremental_and_full):
    """The contact's events were usable when the history was built; the day their CRM record
    withdrew tracking consent, the incremental run attributed their events again (no new event of
    theirs needed to land): none is usable, nor any session of theirs."""
    incremental, _, person, _ = incremental_and_full
    withdrawn = person["withdrawn"]
    assert withdrawn["usable_before"] > 0
    with duckdb.connect(str(incremental), read_only=True) as con:
        events, usable = con.execute(
            "select count(*), count(*) filter (where is_usable) from intermediate.int_web_events_attributed "
            "where contact_id = ?",
            [withdrawn["contact_id"]],
        ).fetchone()
        usable_sessions = con.execute(
            "select count(*) from intermediate.int_web_sessions_sessionized "
            "where is_usable and customer_key = ?",
            [withdrawn["customer_key"]],
        ).fetchone()[0]
    assert events > 0
    assert (usable, usable_sessions) == (0, 0)
