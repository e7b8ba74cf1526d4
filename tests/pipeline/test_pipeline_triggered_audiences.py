"""Triggered audiences (issue 12): between daily runs, web or order files that land alone start the
triggered_audiences job through the file-arrival sensor. It rebuilds the abandonment segments with
consent at the run's as_of and syncs their lists only; every other list at the ESPs, the ML tables
and the published snapshot stay as the last daily run left them.

The demo run's warehouse is first synced to the three (fake) ESPs, as a daily run would. Then, two
hours later, one web file and one order file land: eight consenting customers leave items in their
carts, three people who must not be mailed (no opt-in, unsubscribed, bounced...) do the same with
their ids written with stray whitespace, and a browse abandoner buys; and the orders file is rewritten
without an old order (as `make purge-landing` rewrites one), whose lines stay behind in the order
lines file, which the job does not rebuild. The job runs as `dagster dev` runs it (its own process,
the multiprocess executor, a persistent instance)."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from activation.config import ESP_NAMES as ESPS
from datagen.tables.orders import ORDER_COLUMNS
from fake_esp import FakeESP
from landing.files import landing_fingerprint
from orchestration.definitions import defs
from tests.pipeline.dagster_runs import AS_OF, Workspace, copy_workspace, dagster_home, launch
from tests.pipeline.helpers import failure_messages, materialize, table_fingerprints, write_csv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

RUN_TIMEOUT_SECONDS = 1200
AS_OF_TIME = datetime.fromisoformat(AS_OF)
# The triggered run comes two hours after the daily one, as it would between daily runs.
TRIGGERED_AS_OF = (AS_OF_TIME + timedelta(hours=2)).isoformat()
CART_AT = (AS_OF_TIME - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")  # observed > 24 h
BOUGHT_AT = (AS_OF_TIME - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
NEWCOMERS = 8
SUPPRESSED = 3
# Steps the triggered job may run: nothing of ML, erasure propagation, history or publishing.
KEPT_MARTS = ("marts.customer_profiles", "marts.segment_membership_history")
ALLOWED_STEPS = (
    "landing_files",
    "dbt_core",
    "dbt_after_ml",
    "activation__export_",
    "restricted__audience_export_audience_",
)


@dataclass
class TriggeredRun:
    workspace: Workspace
    fake: FakeESP
    home: Path
    run_id: str
    request: dg.RunRequest
    before: dict[tuple[str, str], set[str]]
    after: dict[tuple[str, str], set[str]]
    newcomers: pd.DataFrame
    suppressed: pd.DataFrame
    buyers: pd.DataFrame
    triggered_lists: set[str]
    landed_to_synced_seconds: float
    kept_before: dict
    kept_after: dict
    dropped_order: str


def _kept(workspace: Workspace) -> dict:
    """What the triggered job must leave as the daily run made it: every ML table, the profiles
    and the membership history (row fingerprints), and the published snapshot's run."""
    fingerprints = table_fingerprints(workspace.warehouse, ("ml", "marts"))
    kept = {
        name: value for name, value in fingerprints.items() if name.startswith("ml.") or name in KEPT_MARTS
    }
    snapshot = _frame(workspace.published, "select run_id, published_at from main.snapshot_info")
    return kept | {"published": tuple(snapshot.iloc[0])}


def _frame(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def _esp_lists(fake: FakeESP, warehouse: Path) -> dict[tuple[str, str], set[str]]:
    lists = _frame(
        warehouse, "select distinct destination, list_key from activation.sync_state where list_key <> '*'"
    )
    return {(d, name): fake.list_members(d, name) for d, name in lists.itertuples(index=False) if d in ESPS}


def _people(warehouse: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Eight consenting customers in no abandonment segment, three suppressed ones (three reasons),
    and the browse abandoners at the ESPs (control arm aside) who will buy."""
    contacts = """
        select details.customer_key, details.contact_id, details.email
        from restricted.customer_contact_details as details
        where details.contact_id is not null and details.is_email_valid
    """
    newcomers = _frame(
        warehouse,
        f"""
        with contacts as ({contacts})
        select * from contacts
        where customer_key not in (
              select customer_key from restricted.suppressed_addresses where customer_key is not null
          )
          and email not in (select email from restricted.suppressed_addresses where email is not null)
          and customer_key not in (
              select customer_key from marts.segment_membership as membership
              inner join marts.segments as catalog using (segment_name)
              where catalog.campaign_group = 'abandonment'
          )
        order by customer_key
        limit {NEWCOMERS}
        """,
    )
    # One per reason, among people who let the shop track them (else their carts are not seen at
    # all): the case where a withdrawal of e-mail consent is all that keeps them out.
    suppressed = _frame(
        warehouse,
        f"""
        with contacts as ({contacts})
        select contacts.*, suppressions.reason
        from contacts
        inner join restricted.suppressed_addresses as suppressions using (customer_key)
        where contacts.customer_key in (
            select customer_key from intermediate.int_web_events_attributed where is_usable
        )
        qualify row_number() over (partition by suppressions.reason order by contacts.customer_key) = 1
        order by suppressions.reason
        limit {SUPPRESSED}
        """,
    )
    buyers = _frame(
        warehouse,
        """
        select distinct members.customer_key, details.contact_id, members.email
        from restricted.audience_export as members
        inner join restricted.customer_contact_details as details using (customer_key)
        where members.list_key = 'browse_abandoners' and members.holdout_arm <> 'control'
          and details.contact_id is not null
        order by members.customer_key
        limit 2
        """,
    )
    return newcomers, suppressed, buyers


def _drop_an_old_order(landing: Path, warehouse: Path) -> str:
    """Rewrites the landed orders file without the oldest order that has lines (every line of the
    file that starts with its id), as `make purge-landing` rewrites a file; its lines stay in the
    order lines file. Too old for any abandonment window. The order's id."""
    order_id = _frame(
        warehouse,
        "select orders.order_id from staging.stg_orders__orders as orders "
        "inner join staging.stg_orders__order_items as lines using (order_id) "
        "order by orders.ordered_at, orders.order_id limit 1",
    ).iloc[0, 0]
    path = landing / "orders" / "orders.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(f"{order_id},")]
    assert len(kept) < len(lines), f"{order_id} is not at the start of a line of {path}"
    path.write_text("".join(kept), encoding="utf-8")
    return order_id


def _land_new_files(landing: Path, product_id: str, carts: pd.DataFrame, buyers: pd.DataFrame) -> None:
    """One web file (a product view and an add to cart per person) and one order file."""
    rows = []
    for number, contact_id in enumerate(carts["contact_id"]):
        for kind in ("product_view", "add_to_cart"):
            rows.append(
                {
                    "event_id": f"triggered-{kind}-{number}",
                    "anonymous_id": f"triggered-visitor-{number}",
                    "contact_id": contact_id,
                    "event_type": kind,
                    "event_at": CART_AT,
                    "page_url": f"https://shop.example.com/p/{product_id.lower()}",
                    "product_id": product_id,
                    "category": None,
                    "device_type": "desktop",
                    "utm_source": None,
                    "utm_medium": None,
                    "utm_campaign": None,
                }
            )
    schema = pq.read_schema(next((landing / "web" / "events").glob("*.parquet")))
    pq.write_table(
        pa.Table.from_pylist(rows, schema=schema), landing / "web" / "events" / "triggered-carts.parquet"
    )
    orders = [
        [
            f"TRIGGERED-{n}",
            contact_id,
            email,
            BOUGHT_AT,
            "completed",
            "USD",
            "40.00",
            "0.00",
            "5.00",
            "45.00",
            "web",
            BOUGHT_AT,
        ]
        for n, (contact_id, email) in enumerate(zip(buyers["contact_id"], buyers["email"], strict=True))
    ]
    write_csv(landing / "orders" / "orders_triggered.csv", ORDER_COLUMNS, orders)


def _tick(cursor: str | None) -> dg.SensorExecutionData:
    sensor = defs.resolve_sensor_def("landing_files_arrived")
    with dg.build_sensor_context(cursor=cursor, resources=dict(defs.resources)) as context:
        return sensor.evaluate_tick(context)


@pytest.fixture(scope="module")
def triggered(demo_run, tmp_path_factory) -> TriggeredRun:
    root = tmp_path_factory.mktemp("triggered")
    landing = root / "landing"
    shutil.copytree(demo_run.landing, landing)  # copy2 keeps sizes and times: the same fingerprint
    copy = copy_workspace(Workspace(demo_run.root, demo_run.landing), root / "workspace")
    workspace = Workspace(copy.root, landing, TRIGGERED_AS_OF)
    home = dagster_home(root / "dagster_home")
    with pytest.MonkeyPatch.context() as patch, FakeESP() as fake:
        for name, value in {**workspace.environment(), **fake.env()}.items():
            patch.setenv(name, value)
        synced = materialize(groups=("activation",), as_of=AS_OF)
        assert synced.success, failure_messages(synced)
        newcomers, suppressed, buyers = _people(workspace.warehouse)
        assert len(newcomers) == NEWCOMERS and len(suppressed) == SUPPRESSED and len(buyers) > 0
        product_id = _frame(
            workspace.warehouse, "select min(product_id) from staging.stg_catalog__products where is_active"
        ).iloc[0, 0]
        triggered_lists = set(
            _frame(workspace.warehouse, "select target_list from marts.segments where refresh = 'triggered'")[
                "target_list"
            ]
        )
        before = _esp_lists(fake, workspace.warehouse)
        kept_before = _kept(workspace)

        quiet = _tick(cursor=None)
        assert not quiet.run_requests, "the demo's own files started a run"
        dirty = suppressed.assign(contact_id=" " + suppressed["contact_id"] + "\t")
        landed_at = time.monotonic()
        _land_new_files(landing, product_id, pd.concat([newcomers, dirty]), buyers)
        dropped_order = _drop_an_old_order(landing, workspace.warehouse)
        arrival = _tick(cursor=quiet.cursor)
        assert len(arrival.run_requests) == 1, arrival.skip_message
        run_id = launch("triggered_audiences", workspace, home).wait(RUN_TIMEOUT_SECONDS)
        landed_to_synced = time.monotonic() - landed_at
        after = _esp_lists(fake, workspace.warehouse)
        print(f"triggered audiences: {landed_to_synced:.1f} s from the files landing to the ESPs in line")
        yield TriggeredRun(
            workspace,
            fake,
            home,
            run_id,
            arrival.run_requests[0],
            before,
            after,
            newcomers,
            suppressed,
            buyers,
            triggered_lists,
            landed_to_synced,
            kept_before,
            _kept(workspace),
            dropped_order,
        )


def test_web_and_order_files_alone_start_the_triggered_job(triggered):
    assert triggered.triggered_lists == {"cart_abandoners_24h", "cart_abandoners_48h", "browse_abandoners"}
    request = triggered.request
    assert request.job_name == "triggered_audiences"
    assert request.tags["changed_sources"] == "orders,web"
    assert request.run_key == f"triggered-{landing_fingerprint(triggered.workspace.landing)}"


def test_the_triggered_job_runs_only_what_the_abandonment_lists_need(triggered):
    with dg.DagsterInstance.local_temp(str(triggered.home)) as instance:
        run = instance.get_run_by_id(triggered.run_id)
        steps = {
            entry.dagster_event.step_key
            for entry in instance.all_logs(triggered.run_id, of_type=dg.DagsterEventType.STEP_SUCCESS)
        }
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert {
        "landing_files",
        "dbt_core",
        "dbt_after_ml",
        "restricted__audience_export_audience_respects_consent",
        "restricted__audience_export_audience_volume_guard",
        "activation__export_mailchimp",
    } <= steps
    assert all(step.startswith(ALLOWED_STEPS) for step in steps), sorted(steps)
    synced_lists = set(
        _frame(
            triggered.workspace.warehouse,
            f"select distinct list_key from activation.sync_runs where run_id = '{triggered.run_id}'",
        )["list_key"]
    )
    assert synced_lists and synced_lists <= triggered.triggered_lists | {"*"}, synced_lists


def test_an_order_gone_from_its_rewritten_file_leaves_its_kept_lines_untested(triggered):
    """The rebuilt orders lose the order; the order lines, which the job does not rebuild, keep its
    lines until the daily run: the job tests only what it rebuilt, and succeeded (the fixture)."""
    orders = _frame(
        triggered.workspace.warehouse,
        f"select count(*) from staging.stg_orders__orders where order_id = '{triggered.dropped_order}'",
    )
    lines = _frame(
        triggered.workspace.warehouse,
        f"select count(*) from staging.stg_orders__order_items where order_id = '{triggered.dropped_order}'",
    )
    assert (orders.iloc[0, 0], lines.iloc[0, 0] > 0) == (0, True)


def test_new_cart_abandoners_reach_every_esp_with_consent_only(triggered):
    warehouse = triggered.workspace.warehouse
    members = _frame(
        warehouse,
        "select destination, customer_key, email from restricted.audience_export "
        "where list_key = 'cart_abandoners_24h' and holdout_arm <> 'control'",
    )
    newcomers = members[members["customer_key"].isin(triggered.newcomers["customer_key"])]
    assert not newcomers.empty, "no new cart abandoner was exported (all held out?)"
    for esp in ESPS:
        expected = set(newcomers.loc[newcomers["destination"] == esp, "email"])
        assert expected <= triggered.after[(esp, "cart_abandoners_24h")], esp
        assert not expected & triggered.before.get((esp, "cart_abandoners_24h"), set())


def test_people_who_must_not_be_mailed_reach_no_list_though_they_abandoned_carts(triggered):
    suppressed = set(triggered.suppressed["email"])
    for key, emails in triggered.after.items():
        assert not emails & suppressed, key
    candidates = _frame(
        triggered.workspace.warehouse,
        "select customer_key, exclusion_reason from audiences.audience_candidates "
        "where list_key = 'cart_abandoners_24h'",
    )
    mine = candidates[candidates["customer_key"].isin(triggered.suppressed["customer_key"])]
    assert set(mine["customer_key"]) == set(triggered.suppressed["customer_key"]), "the carts were not seen"
    assert mine["exclusion_reason"].str.startswith("consent_").all(), mine


def test_a_browse_abandoner_who_bought_leaves_the_list(triggered):
    for esp in ESPS:
        before = triggered.before[(esp, "browse_abandoners")]
        after = triggered.after[(esp, "browse_abandoners")]
        buyers = set(triggered.buyers["email"]) & before
        assert buyers, esp
        assert not buyers & after, esp


def test_the_other_lists_ml_and_the_published_snapshot_are_left_as_they_were(triggered):
    for key, emails in triggered.before.items():
        if key[1] not in triggered.triggered_lists:
            assert triggered.after[key] == emails, key
    assert set(KEPT_MARTS) <= set(triggered.kept_before)
    assert any(name.startswith("ml.") for name in triggered.kept_before)
    assert triggered.kept_after == triggered.kept_before
