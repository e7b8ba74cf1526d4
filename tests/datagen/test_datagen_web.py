"""Web behaviour is coherent with orders, logins and e-mail clicks."""

from __future__ import annotations

import pytest

from tests.datagen.helpers import AS_OF, connect, scalar


@pytest.fixture(scope="module")
def con(spotless):
    connection = connect(spotless.out)
    connection.execute(
        """create temp table purchases as
           select anonymous_id, contact_id, event_at::timestamp as t,
                  regexp_extract(page_url, 'order=(O\\d+)', 1) as order_id
           from web__events where event_type = 'purchase'"""
    )
    return connection


def test_every_online_order_has_one_purchase_event_at_its_time(con):
    online = "select count(*) from orders__orders where channel in ('web', 'app')"
    assert scalar(con, "select count(*) from purchases") > 300
    missing = """select count(*) from purchases p left join orders__orders o using (order_id)
                 where o.order_id is null or o.ordered_at::timestamp <> p.t or o.contact_id <> p.contact_id
                    or o.channel not in ('web', 'app')"""
    assert scalar(con, missing) == 0
    assert scalar(con, "select count(*) - count(distinct order_id) from purchases") == 0
    # contacts without tracking consent are not tracked, so only part of the online orders show up
    assert 0.5 * scalar(con, online) < scalar(con, "select count(*) from purchases") <= scalar(con, online)


def test_funnel_order_view_then_cart_then_checkout_then_purchase(con):
    broken = """select count(*) from purchases p join orders__order_items i using (order_id)
        where not exists (
            select 1 from web__events c join web__events v
              on v.anonymous_id = c.anonymous_id and v.product_id = c.product_id
                  and v.event_type = 'product_view'
            join web__events k on k.anonymous_id = c.anonymous_id and k.event_type = 'begin_checkout'
            where c.anonymous_id = p.anonymous_id and c.event_type = 'add_to_cart'
                and c.product_id = i.product_id
              and v.event_at::timestamp <= c.event_at::timestamp
                  and c.event_at::timestamp <= k.event_at::timestamp
              and k.event_at::timestamp <= p.t and p.t - v.event_at::timestamp < interval 3 hour)"""
    assert scalar(con, broken) == 0


def test_events_are_anonymous_until_login_then_identified(con):
    rules = """with first_login as (
            select anonymous_id, min(event_at::timestamp) as at from web__events
                where event_type = 'login' group by 1)
        select
            count(*) filter (where l.at is null and w.contact_id is not null),
            count(*) filter (where w.event_at::timestamp < l.at and w.contact_id is not null),
            count(*) filter (where w.event_at::timestamp >= l.at and w.contact_id is null),
            count(*) filter (where w.event_at::timestamp < l.at)
        from web__events w left join first_login l using (anonymous_id)"""
    never_logged_in, identified_before, anonymous_after, anonymous_history = con.execute(rules).fetchone()
    assert (never_logged_in, identified_before, anonymous_after) == (0, 0, 0)
    assert anonymous_history > 100  # anonymous browsing that becomes known at login
    one_person = """select count(*) from (select anonymous_id from web__events group by 1
                    having count(distinct contact_id) > 1)"""
    assert scalar(con, one_person) == 0


def test_abandoned_carts_exist_including_in_the_last_days(con):
    abandoned = f"""select count(*) from web__events c
        where c.event_type = 'add_to_cart' and c.event_at::timestamp >= '{AS_OF}'::timestamp - interval 7 day
          and not exists (select 1 from purchases p where p.anonymous_id = c.anonymous_id
                          and p.t between c.event_at::timestamp
                              and c.event_at::timestamp + interval 2 hour)"""
    assert scalar(con, abandoned) >= 5


def test_email_clicks_lead_to_visits_and_some_orders(con):
    visits = """select count(*) from email__events e join web__events w
        on w.contact_id = e.contact_id and w.utm_campaign = e.campaign_id and w.utm_medium = 'email'
        where e.event_type = 'click'"""
    assert scalar(con, visits) > 50
    chains = """select count(*) from purchases p join email__events e on e.contact_id = p.contact_id
        where e.event_type = 'click' and p.t between e.event_at::timestamp
            and e.event_at::timestamp + interval 4 day"""
    assert scalar(con, chains) > 20
    order_before_click = """select count(*) from email__events o join email__events c
            using (campaign_id, contact_id)
        where o.event_type = 'open' and c.event_type = 'click'
            and c.event_at::timestamp < o.event_at::timestamp"""
    assert scalar(con, order_before_click) == 0


def test_bots_burst_and_never_log_in(dirty):
    con = connect(dirty.out)
    bots = """select anonymous_id, count(*) n, count(contact_id) identified,
                     max(ts(event_at)) - min(ts(event_at)) span
              from web__events join truth_dirt d on d.key = event_id and d.dirt_kind = 'bot_traffic'
              group by 1"""
    rows = con.execute(bots).fetchall()
    assert rows
    for _, n, identified, span in rows:
        assert n >= 150 and identified == 0 and span.total_seconds() < 2 * 86400


def test_late_events_are_days_older_than_the_rest_of_their_chunk(dirty):
    con = connect(dirty.out)
    late = """with moved as (select file, row from truth_dirt
                where source = 'web' and dirt_kind in ('late_arriving', 'duplicate_event')),
        chunk_start as (select file, min(ts(event_at)) as start
            from web__events anti join moved using (file, row) group by 1)
        select count(*), count(*) filter (where ts(w.event_at) >= c.start - interval 1 day)
        from truth_dirt d join web__events w using (file, row) join chunk_start c using (file)
        where d.dirt_kind = 'late_arriving' and ts(w.event_at) is not null"""
    checked, too_recent = con.execute(late).fetchone()
    assert checked > 10 and too_recent == 0
