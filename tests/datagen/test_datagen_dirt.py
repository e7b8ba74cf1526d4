"""Dirt: realised rates match the configured ones, every record points at its row, and the row
really carries the defect (checked against the clean twin generated with the same seed)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from datagen import DirtConfig
from tests.datagen.helpers import EMAIL, connect, run, scalar

CONTACTS = 3000
RATES = dict.fromkeys(DirtConfig.names(), 0.05) | {
    "contact_versions": 0.2,
    "bot_traffic": 0.01,
    "no_consent_tracking": 0.3,
    "machine_opens": 0.3,
    "repeated_opens": 0.2,
    "privacy_email_only": 0.4,
}


@pytest.fixture(scope="module")
def rated(tmp_path_factory):
    config = run(
        tmp_path_factory.mktemp("rated"), scale="tiny", seed=21, contacts=CONTACTS, dirt=DirtConfig(**RATES)
    )
    return connect(config.out)


def _count(con, source, table, kind, column=None, distinct="(file, row)") -> int:
    column_rule = "" if column is None else f" and \"column\" = '{column}'"
    return scalar(
        con,
        f"""select count(distinct {distinct}) from truth_dirt where source = '{source}'
                and "table" = '{table}'
            and dirt_kind = '{kind}'{column_rule}""",
    )


def _assert_rate(observed: int, base: int, rate: float, relative: float = 0.15) -> None:
    expected = rate * base
    assert abs(observed - expected) <= max(relative * expected, 3), (observed, base, rate)


def test_contact_rates(rated):
    rows = scalar(rated, "select count(*) from crm__contacts")
    base_rows = rows - _count(rated, "crm", "contacts", "duplicate_row")
    _assert_rate(
        _count(rated, "crm", "contacts", "contact_versions", distinct="key"),
        CONTACTS,
        RATES["contact_versions"],
    )
    _assert_rate(_count(rated, "crm", "contacts", "duplicate_row"), base_rows, RATES["duplicate_row"])
    for kind in ("email_case_space", "invalid_email", "shared_email"):
        _assert_rate(_count(rated, "crm", "contacts", kind), CONTACTS, RATES[kind])
    for column in ("signup_at", "updated_at", "birth_date"):
        _assert_rate(
            _count(rated, "crm", "contacts", "mixed_date_formats", column),
            base_rows,
            RATES["mixed_date_formats"],
        )
    for column in ("email_opt_in", "tracking_consent"):
        _assert_rate(
            _count(rated, "crm", "contacts", "boolean_variants", column), base_rows, RATES["boolean_variants"]
        )
    for column in ("phone", "birth_date", "gender", "city", "postal_code", "income_band"):
        _assert_rate(
            _count(rated, "crm", "contacts", "blank_optional", column), base_rows, RATES["blank_optional"]
        )
    _assert_rate(
        _count(rated, "crm", "contacts", "missing_contact_id"), base_rows, RATES["missing_contact_id"]
    )
    _assert_rate(
        _count(rated, "crm", "contacts", "unparseable_timestamp"), base_rows, RATES["unparseable_timestamp"]
    )


def test_order_rates(rated):
    rows = scalar(rated, "select count(*) from orders__orders")
    added = sum(
        _count(rated, "orders", "orders", k) for k in ("duplicate_row", "status_versions", "guest_unknown")
    )
    base = rows - added
    for kind in (
        "guest_checkout", "guest_unknown", "foreign_currency", "non_completed_status", "status_versions",
        "negative_total", "absurd_total", "unknown_currency", "amount_mismatch", "mixed_date_formats",
        "unparseable_timestamp",
    ):  # fmt: skip
        _assert_rate(_count(rated, "orders", "orders", kind), base, RATES[kind])
    _assert_rate(
        _count(rated, "orders", "orders", "duplicate_row"),
        rows - _count(rated, "orders", "orders", "duplicate_row"),
        0.05,
    )

    items = scalar(rated, "select count(*) from orders__order_items")
    duplicates = _count(rated, "orders", "order_items", "duplicate_row")
    orphans = _count(rated, "orders", "order_items", "orphan_item")
    for kind in ("messy_product_id", "non_positive_quantity", "orphan_item"):
        _assert_rate(_count(rated, "orders", "order_items", kind), items - duplicates - orphans, RATES[kind])
    _assert_rate(duplicates, items - duplicates, RATES["duplicate_row"])


def test_catalog_rates(rated):
    products = scalar(rated, "select count(distinct upper(trim(product_id))) from catalog__products")
    rows = scalar(rated, "select count(*) from catalog__products")
    for kind in ("inactive_product", "product_versions"):
        _assert_rate(_count(rated, "catalog", "products", kind), products, RATES[kind])
    for kind in ("messy_product_id", "boolean_variants"):
        _assert_rate(_count(rated, "catalog", "products", kind), rows, RATES[kind])


def test_web_rates(rated):
    rows = scalar(rated, "select count(*) from web__events")
    duplicates = _count(rated, "web", "events", "duplicate_event")
    bots = _count(rated, "web", "events", "bot_traffic")
    unknown = _count(rated, "web", "events", "unknown_event_type")
    humans = rows - duplicates - bots - unknown
    bot_ids = """select count(distinct anonymous_id) from web__events join truth_dirt d using (file, row)
                 where d.dirt_kind = 'bot_traffic'"""
    bot_list = bot_ids.replace("count(distinct anonymous_id)", "anonymous_id")
    human_ids = f"select count(distinct anonymous_id) from web__events where anonymous_id not in ({bot_list})"
    _assert_rate(scalar(rated, bot_ids), scalar(rated, human_ids), RATES["bot_traffic"])
    _assert_rate(unknown, humans, RATES["unknown_event_type"])
    _assert_rate(_count(rated, "web", "events", "late_arriving"), humans, RATES["late_arriving"])
    _assert_rate(duplicates, rows - duplicates, RATES["duplicate_event"])
    _assert_rate(
        _count(rated, "web", "events", "mixed_date_formats"), rows - duplicates, RATES["mixed_date_formats"]
    )
    tracked = """select count(distinct w.contact_id), count(distinct w.contact_id)
            filter (where d.row is null)
        from web__events w join truth_customers c using (contact_id)
        left join truth_dirt d on d.file = w.file and d.row = w.row and d.dirt_kind = 'no_consent_tracking'
        where not c.tracking_consent and (w.file, w.row) not in (
            select (file, row) from truth_dirt where source = 'web' and dirt_kind = 'duplicate_event')"""
    leaked, unflagged = rated.execute(tracked).fetchone()
    no_consent = scalar(rated, "select count(*) from truth_customers where not tracking_consent")
    assert unflagged == 0
    assert (
        0.4 * RATES["no_consent_tracking"] * no_consent
        < leaked
        <= 1.15 * RATES["no_consent_tracking"] * no_consent
    )


def test_email_rates(rated):
    rows = scalar(rated, "select count(*) from email__events")
    duplicates = _count(rated, "email", "events", "duplicate_event")
    proxied = """select count(distinct contact_id) from email__events join truth_dirt d using (file, row)
                 where d.dirt_kind = 'machine_opens'"""
    recipients = "select count(distinct contact_id) from email__events where event_type = 'delivered'"
    _assert_rate(scalar(rated, proxied), scalar(rated, recipients), RATES["machine_opens"])
    repeated = """select count(distinct (campaign_id, contact_id)) from email__events join truth_dirt d
            using (file, row)
                  where d.dirt_kind = 'repeated_opens'"""
    real_opens = """select count(*) from email__events e anti join truth_dirt d using (file, row)
                    where e.event_type = 'open'"""
    _assert_rate(scalar(rated, repeated), scalar(rated, real_opens), RATES["repeated_opens"], relative=0.2)
    _assert_rate(duplicates, rows - duplicates, RATES["duplicate_event"])
    _assert_rate(
        _count(rated, "email", "events", "mixed_date_formats"), rows - duplicates, RATES["mixed_date_formats"]
    )


def test_privacy_rates(rated):
    requests = scalar(rated, "select count(*) from privacy__requests")
    _assert_rate(requests, CONTACTS, RATES["privacy_request"])
    _assert_rate(
        _count(rated, "privacy", "requests", "privacy_email_only"), requests, RATES["privacy_email_only"]
    )


KEY_OF = {
    "crm__contacts": "contact_id",
    "orders__orders": "order_id",
    "orders__order_items": "order_id || '/' || line_number",
    "catalog__products": "upper(trim(product_id))",
    "web__events": "event_id",
    "email__events": "event_id",
    "privacy__requests": "request_id",
}


@pytest.mark.parametrize("table", list(KEY_OF))
def test_every_dirt_record_points_at_its_row(rated, table):
    source, name = table.split("__")
    located = f"""select count(*), count(t.row), count(*) filter (where {KEY_OF[table]} <> d.key)
        from truth_dirt d left join {table} t using (file, row)
        where d.source = '{source}' and d."table" = '{name}' and d.dirt_kind <> 'missing_contact_id'"""
    records, found, wrong_key = rated.execute(located).fetchone()
    assert records > 0 and found == records and wrong_key == 0


SQL_EMAIL = EMAIL.replace("'", "''")
# a row that carries the defect it is recorded with (every record of the kind must satisfy it)
DEFECT_SHOWS = {
    (
        "crm__contacts",
        "email_case_space",
    ): f"email <> lower(trim(email)) and regexp_full_match(lower(trim(email)), '{SQL_EMAIL}')",
    ("crm__contacts", "invalid_email"): f"not regexp_full_match(lower(trim(email)), '{SQL_EMAIL}')",
    ("crm__contacts", "missing_contact_id"): "contact_id is null",
    (
        "crm__contacts",
        "boolean_variants",
    ): "email_opt_in not in ('true', 'false') or tracking_consent not in ('true', 'false')",
    ("orders__orders", "negative_total"): "total::decimal(14,2) < 0",
    ("orders__orders", "absurd_total"): "total::decimal(14,2) > 1000000",
    ("orders__orders", "unknown_currency"): "currency = 'XXX'",
    ("orders__orders", "foreign_currency"): "currency in ('EUR', 'GBP', 'CAD', 'AUD')",
    ("orders__orders", "non_completed_status"): "status in ('cancelled', 'refunded', 'pending')",
    ("orders__orders", "amount_mismatch"): """subtotal::decimal(14,2) - discount::decimal(14,2)
        + shipping::decimal(14,2) <> total::decimal(14,2)""",
    ("orders__orders", "status_versions"): """order_id in (select order_id from orders__orders group by 1
        having count(distinct status) > 1)""",
    ("orders__order_items", "messy_product_id"): "product_id <> upper(trim(product_id))",
    ("orders__order_items", "non_positive_quantity"): "quantity::int <= 0",
    ("orders__order_items", "orphan_item"): "order_id not in (select order_id from orders__orders)",
    ("catalog__products", "inactive_product"): "lower(trim(active)) in ('false', 'no', 'n', '0', 'f')",
    ("web__events", "unknown_event_type"): """event_type not in ('page_view', 'product_view', 'add_to_cart',
        'remove_from_cart', 'begin_checkout', 'purchase', 'search', 'login')""",
    ("email__events", "machine_opens"): """event_type = 'open' and exists (select 1 from email__events x
        where x.event_type = 'delivered' and x.campaign_id = t.campaign_id and x.contact_id = t.contact_id
        and abs(epoch(date_trunc('second', ts(x.event_at)))
                - epoch(date_trunc('second', ts(t.event_at)))) <= 2)""",
}


@pytest.mark.parametrize("table,kind", list(DEFECT_SHOWS))
def test_recorded_rows_carry_their_defect(rated, table, kind):
    source, name = table.split("__")
    query = f"""select count(*), count(*) filter (where not coalesce(({DEFECT_SHOWS[(table, kind)]}), false))
        from truth_dirt d join {table} t using (file, row)
        where d.source = '{source}' and d."table" = '{name}' and d.dirt_kind = '{kind}'"""
    records, without_defect = rated.execute(query).fetchone()
    assert records > 0 and without_defect == 0


def test_guest_checkouts_use_a_known_contacts_address(rated):
    """Blank contact id, and the address of a contact (messy); misses only where the CRM's copy of that
    address is itself broken by invalid_email or the contact's id is blank."""
    guests = """select count(*), count(*) filter (where lower(trim(o.email)) not in (
            select lower(trim(email)) from crm__contacts where email is not null))
        from truth_dirt d join orders__orders o using (file, row)
        where d.dirt_kind = 'guest_checkout' and o.contact_id is null"""
    records, unknown = rated.execute(guests).fetchone()
    assert records > 100 and unknown <= (RATES["invalid_email"] + 0.02) * records


def test_duplicates_are_exact_copies(rated):
    for table in ("crm__contacts", "orders__orders", "orders__order_items"):
        source, name = table.split("__")
        columns = [
            c
            for c in rated.execute(f"select * from {table} limit 0").fetchdf().columns
            if c not in ("file", "row")
        ]
        same = " and ".join(f"t.{c} is not distinct from o.{c}" for c in columns)
        copies = f"""select count(*), count(*) filter (where not exists (
                select 1 from {table} o where o.file = t.file and o.row <> t.row and {same}))
            from truth_dirt d join {table} t using (file, row)
            where d.source = '{source}' and d."table" = '{name}' and d.dirt_kind = 'duplicate_row'"""
        records, without_twin = rated.execute(copies).fetchone()
        assert records > 0 and without_twin == 0, table


ACCEPTED = (
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", "%Y-%m-%dT%H:%M:%SZ"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", "%Y-%m-%dT%H:%M:%S%z"),
    (r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d+Z", "%Y-%m-%dT%H:%M:%S.%fZ"),
    (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "%Y-%m-%d %H:%M:%S"),
    (r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", "%d/%m/%Y %H:%M"),
    (r"\d{4}-\d{2}-\d{2}", "%Y-%m-%d"),
    (r"\d{2}/\d{2}/\d{4}", "%d/%m/%Y"),
    (r"\d{2}\.\d{2}\.\d{4}", "%d.%m.%Y"),
)


def parse_accepted(value: str) -> dt.datetime | None:
    """The conventions' accepted forms (docs/conventions.md), as an aware UTC time; None if not accepted."""
    if re.fullmatch(r"\d{9,10}", value):
        return dt.datetime.fromtimestamp(int(value), dt.UTC)
    for pattern, form in ACCEPTED:
        if re.fullmatch(pattern, value):
            try:
                moment = dt.datetime.strptime(value, form)
            except ValueError:
                return None
            if "/" in value and moment.day <= 12:
                return None  # ambiguous with month-first: the contract forbids it
            moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
            return moment.astimezone(dt.UTC).replace(microsecond=0)
    return None


def test_mixed_dates_are_accepted_forms_of_the_exact_clean_value(dirty, spotless_tiny):
    """Against the clean twin (same seed): every re-formatted value means exactly the clean value."""
    dirty_con, clean_con = connect(dirty.out), connect(spotless_tiny.out)
    pairs = {
        "web__events": ("event_id", "event_at"),
        "email__events": ("event_id", "event_at"),
        "orders__orders": ("order_id", "ordered_at"),
    }
    checked = 0
    for table, (key, column) in pairs.items():
        source, name = table.split("__")
        messy = dirty_con.execute(
            f"""select t.{key}, t.{column} from truth_dirt d join {table} t using (file, row)
                where d.source = '{source}' and d."table" = '{name}' and d.dirt_kind = 'mixed_date_formats'"""
        ).fetchall()
        clean = dict(clean_con.execute(f"select {key}, {column} from {table}").fetchall())
        for identifier, value in messy:
            if identifier not in clean:
                continue  # a row the dirt added (bot, unknown type, untracked contact): no clean twin
            assert not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", value)
            assert parse_accepted(value) == parse_accepted(clean[identifier]), (
                table,
                value,
                clean[identifier],
            )
            checked += 1
    assert checked > 50


def test_unparseable_timestamps_are_not_accepted_forms(rated):
    values = rated.execute(
        """select coalesce(
                case d."column" when 'signup_at' then c.signup_at when 'updated_at' then c.updated_at end,
                o.ordered_at)
           from truth_dirt d left join crm__contacts c on d.source = 'crm' and c.file = d.file
               and c.row = d.row
           left join orders__orders o on d.source = 'orders' and o.file = d.file and o.row = d.row
           where d.dirt_kind = 'unparseable_timestamp'"""
    ).fetchall()
    assert len(values) > 10
    assert all(parse_accepted(value) is None for (value,) in values)


def test_inactive_products_are_still_referenced_by_old_orders(rated):
    referenced = """select count(distinct p.key), count(distinct i.product_id)
        from truth_dirt p join orders__order_items i on upper(trim(i.product_id)) = p.key
        where p.dirt_kind = 'inactive_product'"""
    inactive, referenced_ids = rated.execute(referenced).fetchone()
    assert inactive > 0 and referenced_ids > 0


def test_foreign_totals_convert_back_to_the_clean_usd_total(dirty, spotless_tiny):
    """Converted with the rate in effect on the order's date (the pipeline's rule), a foreign total is
    the clean twin's USD total, up to the rounding of each converted line."""
    from datagen.currency import CURRENCIES, units_per_usd

    dirty_con, clean_con = connect(dirty.out), connect(spotless_tiny.out)
    foreign = dirty_con.execute(
        """select o.order_id, o.currency, o.total::decimal(14,2), o.ordered_at from truth_dirt d
           join orders__orders o using (file, row)
           where d.dirt_kind = 'foreign_currency' and o.order_id not in (
               select key from truth_dirt where dirt_kind in (
                   'negative_total', 'absurd_total', 'amount_mismatch', 'unparseable_timestamp',
                   'mixed_date_formats'))"""
    ).fetchall()
    clean_totals = dict(
        clean_con.execute("select order_id, total::decimal(14,2) from orders__orders").fetchall()
    )
    assert len(foreign) > 10
    for order_id, currency, total, ordered_at in foreign:
        seconds = dt.datetime.fromisoformat(ordered_at.replace("Z", "+00:00")).timestamp()
        rate = units_per_usd([CURRENCIES.index(currency)], [int(seconds)])[0]
        assert float(total) / rate == pytest.approx(float(clean_totals[order_id]), rel=0.01, abs=0.05)
