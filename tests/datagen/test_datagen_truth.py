"""The ground truth: outside the landing folder, complete, and consistent with the landing data."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from datagen.personas import PERSONAS
from tests.datagen.helpers import AS_OF, connect, scalar


@pytest.fixture(scope="module")
def con(spotless):
    return connect(spotless.out)


def test_truth_lives_beside_not_inside_the_landing_folder(dirty):
    truth = dirty.truth_dir.resolve()
    assert truth == dirty.out.resolve().parent / "ground_truth"
    assert dirty.out.resolve() not in truth.parents
    names = {p.name for p in truth.iterdir()}
    assert {"customers.parquet", "future_orders.parquet", "dirt.parquet", "meta.json"} <= names
    assert not [p for p in dirty.out.rglob("*") if p.name in names]


def test_truth_inside_the_landing_folder_is_refused(tmp_path):
    from datagen import GeneratorConfig, generate

    config = GeneratorConfig(out=tmp_path / "landing", truth_out=tmp_path / "landing" / "truth", scale="tiny")
    with pytest.raises(ValueError, match="must not be inside"):
        generate(config)
    assert not (tmp_path / "landing").exists()


def test_every_contact_has_exactly_one_truth_row(con):
    assert scalar(con, "select count(*) from truth_customers") == 1500
    assert scalar(con, "select count(distinct contact_id) from truth_customers") == 1500
    missing = """select count(*) from (select contact_id from crm__contacts
                 except select contact_id from truth_customers)"""
    assert scalar(con, missing) == 0


def test_personas_have_their_planned_shares(con):
    shares = dict(con.execute("select persona, count(*) / 1500 from truth_customers group by 1").fetchall())
    assert set(shares) == {p.name for p in PERSONAS}
    for persona in PERSONAS:
        assert shares[persona.name] == pytest.approx(persona.share, abs=1 / 1500)


def test_future_orders_fall_in_the_90_days_after_as_of_and_add_up(con):
    window = f"""select count(*) from truth_future_orders
        where ordered_at <= '{AS_OF}'::timestamptz
            or ordered_at >= '{AS_OF}'::timestamptz + interval 90 day"""
    assert scalar(con, window) == 0
    assert scalar(con, "select count(*) from truth_future_orders") > 100
    mismatched = f"""select count(*) from truth_customers c left join (
            select contact_id, count(*) n90, sum(total_usd) r90,
                   count(*) filter (where ordered_at < '{AS_OF}'::timestamptz + interval 30 day) n30
            from truth_future_orders group by 1) f using (contact_id)
        where c.orders_next_90d <> coalesce(f.n90, 0) or c.orders_next_30d <> coalesce(f.n30, 0)
           or abs(c.revenue_next_90d - coalesce(f.r90, 0)) > 0.01"""
    assert scalar(con, mismatched) == 0


def test_no_future_order_reaches_the_landing_files(con):
    assert scalar(con, f"select count(*) from orders__orders where ordered_at::timestamp >= '{AS_OF}'") == 0
    assert scalar(con, f"select count(*) from web__events where event_at::timestamp >= '{AS_OF}'") == 0


def test_past_orders_in_truth_match_the_landing_orders(con):
    mismatched = """select count(*) from truth_customers c left join (
            select contact_id, count(*) n, sum(total::decimal(12,2)) revenue from orders__orders group by 1
        ) o using (contact_id)
        where c.orders_before_as_of <> coalesce(o.n, 0)
            or abs(c.revenue_before_as_of - coalesce(o.revenue, 0)) > 0.01"""
    assert scalar(con, mismatched) == 0


def test_lapsed_buyers_died_before_as_of_and_buy_no_more(con):
    lapsed = """select count(*), count(*) filter (where alive_at_as_of
            or death_at >= '2026-06-30'::timestamptz
                    or orders_next_90d > 0 or orders_before_as_of = 0)
                from truth_customers where persona = 'lapsed_buyer'"""
    total, wrong = con.execute(lapsed).fetchone()
    assert total > 100 and wrong == 0
    late_orders = """select count(*) from orders__orders o join truth_customers c using (contact_id)
                     where c.death_at is not null and o.ordered_at::timestamptz > c.death_at"""
    assert scalar(con, late_orders) == 0


def test_personas_differ_in_behaviour(con):
    rows = con.execute(
        """select persona, avg(orders_before_as_of), avg(revenue_before_as_of), avg(orders_next_90d)
           from truth_customers group by 1"""
    ).fetchall()
    stats = {row[0]: row[1:] for row in rows}
    assert stats["loyal_high_spender"][1] > 2 * stats["bargain_hunter"][1]
    assert stats["window_shopper"][0] < 0.5 < stats["bargain_hunter"][0]
    assert stats["lapsed_buyer"][2] == 0 < stats["loyal_high_spender"][2]
    new_signups = "select min(signup_at) from truth_customers where persona = 'new_customer'"
    assert str(scalar(con, new_signups)) >= "2026-02-28"


def _per_persona(con, sql: str) -> dict[str, float]:
    return dict(con.execute(sql).fetchall())


def test_personas_differ_in_what_the_features_see(con):
    """Each persona is visible in the behaviour the customer features measure (discount share, basket
    size, season, recency, e-mail and web engagement), as its description says, so clustering and
    a classifier on those features can be judged against the personas."""
    orders = """from orders__orders o join truth_customers c using (contact_id)"""
    discount_share = _per_persona(
        con, f"select persona, avg((discount::double > 0)::int) {orders} group by 1"
    )
    assert discount_share["bargain_hunter"] > 0.8 and discount_share["loyal_high_spender"] < 0.15
    basket = _per_persona(con, f"select persona, median(total::double) {orders} group by 1")
    assert basket["loyal_high_spender"] > 3 * basket["bargain_hunter"]
    assert basket["holiday_shopper"] > 2 * basket["bargain_hunter"]
    in_season = _per_persona(
        con, f"select persona, avg((month(ts(ordered_at)) in (11, 12))::int) {orders} group by 1"
    )
    assert in_season["holiday_shopper"] > 0.85 > 0.4 > in_season["loyal_high_spender"]
    days_since_last = _per_persona(
        con,
        f"""select persona, median(date_diff('day', last_order, '{AS_OF}'::timestamp)) from (
                select persona, contact_id, max(ts(ordered_at)) as last_order {orders} group by 1, 2)
            group by 1""",
    )
    assert days_since_last["lapsed_buyer"] >= 270 > days_since_last["holiday_shopper"] >= 150
    assert days_since_last["holiday_shopper"] > 2 * days_since_last["loyal_high_spender"]
    open_rate = _per_persona(
        con,
        """select persona, count(*) filter (where e.event_type = 'open')
                / count(*) filter (where e.event_type = 'delivered')
           from email__events e join truth_customers c using (contact_id) group by 1""",
    )
    assert min(open_rate[p] for p in ("loyal_high_spender", "bargain_hunter")) > 0.6
    assert max(open_rate[p] for p in ("window_shopper", "holiday_shopper", "lapsed_buyer")) < 0.25
    recent_views = _per_persona(
        con,
        f"""select persona, count(w.event_type) / count(distinct c.contact_id)
            from truth_customers c left join web__events w on w.contact_id = c.contact_id
                and w.event_type = 'product_view' and ts(w.event_at) >= '{AS_OF}'::timestamp - interval 30 day
            group by 1""",
    )
    assert min(recent_views[p] for p in ("loyal_high_spender", "bargain_hunter", "new_customer")) > 3 * max(
        recent_views[p] for p in ("holiday_shopper", "lapsed_buyer")
    )


def test_meta_describes_the_run(dirty):
    meta = json.loads((dirty.truth_dir / "meta.json").read_text())
    assert meta["seed"] == 7 and meta["scale"] == "tiny" and meta["as_of"] == "2026-06-30T00:00:00Z"
    assert meta["format"] == "mixed" and meta["dirt_rates"]["duplicate_row"] == 0.01
    for relative, stats in meta["files"].items():
        path = dirty.out / relative
        assert path.stat().st_size == stats["bytes"]
        if path.suffix == ".parquet":
            assert pq.read_metadata(path).num_rows == stats["rows"]
    assert set(meta["timings_seconds"]) >= {"blocks", "total"}
    assert meta["generator_version"]
