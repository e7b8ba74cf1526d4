"""--dirt none must give perfectly clean data: every rule checked with DuckDB over the files."""

from __future__ import annotations

import pytest

from tests.datagen.helpers import AS_OF, EMAIL, ISO_DATE, ISO_TIMESTAMP, connect, scalar

SQL_EMAIL = EMAIL.replace("'", "''")


@pytest.fixture(scope="module")
def con(spotless):
    return connect(spotless.out)


# each query counts the rows breaking one rule; all must be zero
VIOLATIONS = {
    "contact id missing or malformed": r"""select count(*) from crm__contacts
        where not regexp_full_match(coalesce(contact_id, ''), 'C\d{8}')""",
    "contact id repeated (versions)": "select count(*) - count(distinct contact_id) from crm__contacts",
    "contact e-mail not trimmed/lower/valid": f"""select count(*) from crm__contacts
        where not regexp_full_match(coalesce(email, ''), '{SQL_EMAIL}')""",
    "contact e-mail shared": "select count(*) - count(distinct email) from crm__contacts",
    "contact timestamps not canonical": f"""select count(*) from crm__contacts
        where not regexp_full_match(signup_at, '{ISO_TIMESTAMP}')
            or not regexp_full_match(updated_at, '{ISO_TIMESTAMP}')
           or (opt_in_at is not null and not regexp_full_match(opt_in_at, '{ISO_TIMESTAMP}'))""",
    "birth date not canonical": f"""select count(*) from crm__contacts
        where not regexp_full_match(coalesce(birth_date, ''), '{ISO_DATE}')""",
    "boolean not true/false": """select count(*) from crm__contacts
        where email_opt_in not in ('true', 'false') or tracking_consent not in ('true', 'false')""",
    "opt-in without its time (or the reverse)": """select count(*) from crm__contacts
        where (email_opt_in = 'true') <> (opt_in_at is not null)""",
    "blank optional field": """select count(*) from crm__contacts where phone is null or birth_date is null
        or gender is null or city is null or postal_code is null or income_band is null
            or loyalty_tier is null""",
    "timestamps out of order or after as_of": f"""select count(*) from crm__contacts
        where try_cast(signup_at as timestamp) > try_cast(updated_at as timestamp)
            or try_cast(updated_at as timestamp) >= '{AS_OF}'
           or try_cast(opt_in_at as timestamp) < try_cast(signup_at as timestamp)""",
    "order id repeated": "select count(*) - count(distinct order_id) from orders__orders",
    "order without a known contact": """select count(*) from orders__orders o
        left join crm__contacts c using (contact_id) where c.contact_id is null""",
    "order e-mail differs from the contact's": """select count(*) from orders__orders o
        join crm__contacts c using (contact_id) where o.email <> c.email""",
    "order timestamp not canonical or not before as_of": f"""select count(*) from orders__orders
        where not regexp_full_match(ordered_at, '{ISO_TIMESTAMP}')
            or try_cast(ordered_at as timestamp) >= '{AS_OF}'""",
    "order not completed in USD": """select count(*) from orders__orders
        where status <> 'completed' or currency <> 'USD'""",
    "order amounts inconsistent or implausible": """select count(*) from orders__orders
        where subtotal::decimal(12,2) - discount::decimal(12,2) + shipping::decimal(12,2)
            <> total::decimal(12,2)
           or total::decimal(12,2) <= 0 or total::decimal(12,2) > 100000 or discount::decimal(12,2) < 0""",
    "order subtotal differs from its lines": """select count(*) from orders__orders o join (
            select order_id, sum(try_cast(quantity as int) * unit_price::decimal(12,2)) as lines
                from orders__order_items group by 1
        ) i using (order_id) where o.subtotal::decimal(12,2) <> i.lines""",
    "order without lines": """select count(*) from orders__orders o
        where not exists (select 1 from orders__order_items i where i.order_id = o.order_id)""",
    "line repeated": "select count(*) - count(distinct (order_id, line_number)) from orders__order_items",
    "orphan line": """select count(*) from orders__order_items i
        where not exists (select 1 from orders__orders o where o.order_id = i.order_id)""",
    "line product unknown or not canonical": r"""select count(*) from orders__order_items i
        left join catalog__products p using (product_id)
        where p.product_id is null or not regexp_full_match(i.product_id, 'SKU-\d{5}')""",
    "line quantity not positive": """select count(*) from orders__order_items
        where try_cast(quantity as int) <= 0""",
    "product repeated or inactive or malformed": r"""select count(*) - count(distinct product_id)
        + count(*) filter (where active <> 'true' or not regexp_full_match(product_id, 'SKU-\d{5}'))
        from catalog__products""",
    "web event id repeated": "select count(*) - count(distinct event_id) from web__events",
    "web event type unknown": """select count(*) from web__events where event_type not in
        ('page_view', 'product_view', 'add_to_cart', 'remove_from_cart', 'begin_checkout',
            'purchase', 'search', 'login')""",
    "web timestamp not canonical or after as_of": f"""select count(*) from web__events
        where not regexp_full_match(event_at, '{ISO_TIMESTAMP}')
            or try_cast(event_at as timestamp) >= '{AS_OF}'""",
    "web event of an unknown contact or product": """select count(*) from web__events w
        left join (select distinct contact_id from crm__contacts) c using (contact_id)
        left join catalog__products p using (product_id)
        where (w.contact_id is not null and c.contact_id is null) or (w.product_id is not null
            and p.product_id is null)""",
    "web event of a contact without tracking consent": """select count(*) from web__events w
        join crm__contacts c using (contact_id) where c.tracking_consent <> 'true'""",
    "web event in a later chunk than its time (late arrival)": """with chunk as (
            select file, max(try_cast(event_at as timestamp)) as latest from web__events group by file),
        before as (select file, max(latest) over (order by file rows between unbounded preceding
            and 1 preceding)
            as earlier from chunk)
        select count(*) from web__events join before using (file)
            where try_cast(event_at as timestamp) < earlier""",
    "bot burst (over 50 events of one id in a minute)": """select count(*) from (
        select anonymous_id, date_trunc('minute', try_cast(event_at as timestamp)), count(*) n
            from web__events
        group by all having n > 50)""",
    "e-mail event id repeated": "select count(*) - count(distinct event_id) from email__events",
    "e-mail event of an unknown campaign or contact": """select count(*) from email__events e
        left join email__campaigns k using (campaign_id) left join crm__contacts c using (contact_id)
        where k.campaign_id is null or c.contact_id is null or e.email <> c.email""",
    "e-mail to a contact not opted in": """select count(*) from email__events e
        join crm__contacts c using (contact_id)
        where c.email_opt_in <> 'true'""",
    "e-mail timestamp not canonical or after as_of": f"""select count(*) from email__events
        where not regexp_full_match(event_at, '{ISO_TIMESTAMP}')
            or try_cast(event_at as timestamp) >= '{AS_OF}'""",
    "more than one open or click of one e-mail": """select count(*) from (select campaign_id,
        contact_id, event_type
        from email__events where event_type in ('open', 'click') group by all having count(*) > 1)""",
    "machine open (within 2 s of delivery)": """select count(*) from email__events o join email__events d
        using (campaign_id, contact_id) where o.event_type = 'open' and d.event_type = 'delivered'
        and try_cast(o.event_at as timestamp) - try_cast(d.event_at as timestamp) <= interval 2 second""",
    "privacy request present": "select count(*) from privacy__requests",
    "campaign repeated": "select count(*) - count(distinct campaign_id) from email__campaigns",
    "dirt recorded": "select count(*) from truth_dirt",
}


@pytest.mark.parametrize("rule", list(VIOLATIONS))
def test_clean_data_breaks_no_rule(con, rule):
    assert scalar(con, VIOLATIONS[rule]) == 0, rule


def test_clean_data_is_not_empty(con):
    counts = {
        table: scalar(con, f"select count(*) from {table}")
        for table in (
            "crm__contacts",
            "orders__orders",
            "orders__order_items",
            "catalog__products",
            "web__events",
            "email__events",
            "email__campaigns",
        )
    }
    assert counts["crm__contacts"] == 1500
    assert all(count > 100 for count in counts.values()), counts


# no dirt kind produces these two; every other rule must catch the default dirt
NOT_TARGETED_BY_DIRT = {"order without lines", "campaign repeated"}


@pytest.fixture(scope="module")
def dirty_con(dirty):
    return connect(dirty.out)


@pytest.mark.parametrize("rule", [r for r in VIOLATIONS if r not in NOT_TARGETED_BY_DIRT])
def test_the_same_rules_catch_default_dirt(dirty_con, rule):
    """Proves the clean-data queries can fail: the default dirt breaks each of them."""
    assert scalar(dirty_con, VIOLATIONS[rule]) > 0, rule
