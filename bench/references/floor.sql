-- The floor: the core marts straight from the landing files, each file read once, in DuckDB.
-- bench/references/floor.py defines the views landed_contacts, landed_orders, landed_events
-- (the raw files, every column text) and the seed views, and sets the variables (as_of and the
-- dbt vars of the same names). No identity resolution, no dirt handling: one contact per
-- customer, canonical values, every cast strict (a value it cannot read stops the script); amounts
-- in USD, the reporting currency by default (dbt var reporting_currency).

-- Each contact's version in effect at as_of.
create temp table contacts as
select
    contact_id,
    'cus_' || substr(md5('contact:' || contact_id), 1, 20) as customer_key,
    case
        when lower(gender) in ('f', 'female', 'w', 'woman') then 'female'
        when lower(gender) in ('m', 'male', 'man') then 'male'
        when lower(gender) in ('x', 'other', 'non-binary', 'nonbinary', 'diverse') then 'other'
    end as gender,
    cast(birth_date as date) as birth_date,
    upper(country) as country_code,
    city,
    upper(postal_code) as postal_code,
    lower(income_band) as income_band,
    lower(loyalty_tier) as loyalty_tier,
    cast(rtrim(signup_at, 'Z') as timestamp) as signup_at
from landed_contacts
where cast(rtrim(updated_at, 'Z') as timestamp) < getvariable('as_of')
qualify row_number() over (partition by contact_id order by cast(rtrim(updated_at, 'Z') as timestamp) desc) = 1;

-- Each order's version known at as_of, in the reporting currency at the rate of its date.
create temp table orders as
with versions as (
    select
        order_id,
        contact_id,
        cast(rtrim(ordered_at, 'Z') as timestamp) as ordered_at,
        greatest(
            cast(rtrim(ordered_at, 'Z') as timestamp),
            coalesce(cast(rtrim(updated_at, 'Z') as timestamp), cast(rtrim(ordered_at, 'Z') as timestamp))
        ) as known_at,
        lower(status) as order_status,
        upper(currency) as currency_code,
        cast(total as decimal(18, 2)) as total
    from landed_orders
),

rates as (
    select
        currency_code,
        cast(valid_from as timestamp) as valid_from,
        coalesce(lead(cast(valid_from as timestamp)) over (partition by currency_code order by valid_from),
            timestamp '9999-12-31') as valid_to,
        cast(usd_per_unit as decimal(18, 8)) as usd_per_unit
    from seed_currency_rates
)

select
    'cus_' || substr(md5('contact:' || coalesce(versions.contact_id, error('an order without contact_id: '
        || versions.order_id || ' (the references read data generated with --dirt none)'))), 1, 20) as customer_key,
    versions.ordered_at,
    versions.order_status,
    coalesce(statuses.is_purchase, error('unknown order status ' || versions.order_status)) as is_purchase,
    cast(versions.total * cast(coalesce(order_rate.usd_per_unit, error('no rate for ' || versions.currency_code))
        / usd_rate.usd_per_unit as double) as decimal(18, 2)) as total_reporting
from versions
left join seed_order_statuses as statuses on versions.order_status = statuses.status
left join rates as order_rate
    on versions.currency_code = order_rate.currency_code
    and versions.ordered_at >= order_rate.valid_from and versions.ordered_at < order_rate.valid_to
inner join rates as usd_rate
    on usd_rate.currency_code = 'USD'
    and versions.ordered_at >= usd_rate.valid_from and versions.ordered_at < usd_rate.valid_to
where versions.known_at < getvariable('as_of')
qualify row_number() over (
    partition by versions.order_id order by versions.known_at desc, statuses.precedence desc
) = 1;

-- Per customer and campaign, in one aggregation of the events: delivery (the delivered event, else
-- sent unless it bounced), first opens by a person (an open within the machine-open seconds of
-- delivery is a privacy proxy), first click.
create temp table campaign_engagement as
with per_campaign as (
    select
        'cus_' || substr(md5('contact:' || contact_id), 1, 20) as customer_key,
        campaign_id,
        coalesce(
            min(event_at) filter (where event_type = 'delivered'),
            case when count(*) filter (where event_type = 'bounce') = 0
                then min(event_at) filter (where event_type = 'sent') end
        ) as delivered_at,
        list(event_at) filter (where event_type = 'open') as opens,
        min(event_at) filter (where event_type = 'click') as first_click_at
    from (
        select
            coalesce(contact_id, error('an e-mail event without contact_id: ' || event_id
                || ' (the references read data generated with --dirt none)')) as contact_id,
            campaign_id,
            event_type,
            cast(rtrim(event_at, 'Z') as timestamp) as event_at
        from landed_events
    )
    where event_at < getvariable('as_of')
    group by all
)

select
    customer_key,
    delivered_at,
    list_min(list_filter(opens, o -> delivered_at is null
        or date_diff('second', delivered_at, o) > getvariable('machine_open_max_seconds_after_delivery')))
        as first_human_open_at,
    coalesce(len(list_filter(opens, o -> delivered_at is not null
        and date_diff('second', delivered_at, o) <= getvariable('machine_open_max_seconds_after_delivery'))), 0)
        as machine_opens,
    first_click_at
from per_campaign;

-- Every order and event belongs to a CRM contact known at as_of: the references resolve no other
-- identity, so anything else stops them rather than being dropped.
select error('orders or e-mail events of ' || count(*) || ' people the CRM does not hold at as_of, e.g. '
    || min(customer_key) || ' (the references read data generated with --dirt none)')
from (
    select customer_key from orders
    union
    select customer_key from campaign_engagement
)
where customer_key not in (select customer_key from contacts)
having count(*) > 0;

create temp table customer_orders as
select
    customer_key,
    min(ordered_at) filter (where is_purchase) as first_order_at,
    max(ordered_at) filter (where is_purchase) as last_order_at,
    count(*) filter (where is_purchase) as lifetime_orders,
    coalesce(sum(total_reporting) filter (where is_purchase), 0) as lifetime_revenue,
    count(*) filter (where order_status = 'refunded') as refunded_orders,
    max(ordered_at) filter (
        where is_purchase and ordered_at >= getvariable('as_of') - to_days(getvariable('rfm_lookback_days'))
    ) as last_purchase_at,
    min(ordered_at) filter (
        where is_purchase and ordered_at >= getvariable('as_of') - to_days(getvariable('rfm_lookback_days'))
    ) as first_purchase_at,
    count(*) filter (
        where is_purchase and ordered_at >= getvariable('as_of') - to_days(getvariable('rfm_lookback_days'))
    ) as frequency,
    sum(total_reporting) filter (
        where is_purchase and ordered_at >= getvariable('as_of') - to_days(getvariable('rfm_lookback_days'))
    ) as monetary,
    bool_or(is_purchase and ordered_at >= getvariable('as_of') - to_days(getvariable('engagement_recent_purchase_days')))
        as has_recent_purchase
from orders
group by customer_key;

create table customer_profiles as
select
    contacts.customer_key,
    'crm_contact' as customer_type,
    contacts.gender,
    contacts.birth_date,
    contacts.country_code,
    contacts.city,
    contacts.postal_code,
    contacts.income_band,
    contacts.loyalty_tier,
    contacts.signup_at,
    customer_orders.first_order_at,
    customer_orders.last_order_at,
    coalesce(customer_orders.lifetime_orders, 0) as lifetime_orders,
    cast(coalesce(customer_orders.lifetime_revenue, 0) as decimal(18, 2)) as lifetime_revenue,
    cast(customer_orders.lifetime_revenue / nullif(customer_orders.lifetime_orders, 0) as decimal(18, 2))
        as average_order_value,
    coalesce(customer_orders.refunded_orders, 0) as refunded_orders
from contacts
left join customer_orders on contacts.customer_key = customer_orders.customer_key;

create table customer_rfm as
with buyers as (
    select
        customer_key,
        date_diff('day', cast(last_purchase_at as date), cast(getvariable('as_of') as date)) as recency_days,
        frequency,
        cast(monetary as decimal(18, 2)) as monetary,
        first_purchase_at,
        last_purchase_at
    from customer_orders
    where frequency > 0
),

scored as (
    select
        *,
        least(5, 1 + coalesce(cast(floor(5 * (rank() over (order by recency_days desc) - 1)
            / nullif(count(*) over () - 1, 0)) as integer), 0)) as r_score,
        least(5, 1 + coalesce(cast(floor(5 * (rank() over (order by frequency) - 1)
            / nullif(count(*) over () - 1, 0)) as integer), 0)) as f_score,
        least(5, 1 + coalesce(cast(floor(5 * (rank() over (order by monetary) - 1)
            / nullif(count(*) over () - 1, 0)) as integer), 0)) as m_score
    from buyers
)

select
    contacts.customer_key,
    scored.recency_days,
    coalesce(scored.frequency, 0) as frequency,
    cast(coalesce(scored.monetary, 0) as decimal(18, 2)) as monetary,
    scored.first_purchase_at,
    scored.last_purchase_at,
    scored.r_score,
    scored.f_score,
    scored.m_score,
    cast(floor((scored.f_score + scored.m_score) / 2.0 + 0.5) as integer) as fm_score,
    cast(scored.r_score as varchar) || cast(scored.f_score as varchar) || cast(scored.m_score as varchar) as rfm_cell,
    case
        when scored.r_score is null then 'No Purchases Yet'
        else coalesce(segment_map.rfm_segment, 'Unclassified')
    end as rfm_segment
from contacts
left join scored on contacts.customer_key = scored.customer_key
left join seed_rfm_segment_map as segment_map
    on scored.r_score = segment_map.r_score
    and cast(floor((scored.f_score + scored.m_score) / 2.0 + 0.5) as integer) = segment_map.fm_score;

create table customer_engagement as
with windowed as (
    select
        customer_key,
        count(*) as emails_delivered,
        count(first_human_open_at) as emails_opened,
        count(first_click_at) as emails_clicked,
        sum(machine_opens) as machine_opens
    from campaign_engagement
    where delivered_at >= getvariable('as_of') - to_days(getvariable('engagement_window_days'))
    group by customer_key
),

lifetime as (
    select
        customer_key,
        max(first_human_open_at) as last_open_at,
        max(first_click_at) as last_click_at
    from campaign_engagement
    group by customer_key
),

rates as (
    select
        contacts.customer_key,
        coalesce(windowed.emails_delivered, 0) as emails_delivered,
        coalesce(windowed.emails_opened, 0) as emails_opened,
        coalesce(windowed.emails_clicked, 0) as emails_clicked,
        coalesce(windowed.machine_opens, 0) as machine_opens,
        coalesce(windowed.emails_opened / nullif(windowed.emails_delivered, 0), 0) as open_rate,
        coalesce(windowed.emails_clicked / nullif(windowed.emails_delivered, 0), 0) as click_rate,
        lifetime.last_open_at,
        lifetime.last_click_at,
        greatest(lifetime.last_open_at, lifetime.last_click_at) as last_engagement_at,
        coalesce(customer_orders.has_recent_purchase, false) as has_recent_purchase
    from contacts
    left join windowed on contacts.customer_key = windowed.customer_key
    left join lifetime on contacts.customer_key = lifetime.customer_key
    left join customer_orders on contacts.customer_key = customer_orders.customer_key
)

select
    rates.*,
    tiers.engagement_tier,
    tiers.recommended_sends_per_week
from rates
inner join seed_engagement_tiers as tiers
    on (case when tiers.open_rate_strictly_above then rates.open_rate > tiers.min_open_rate
        else rates.open_rate >= tiers.min_open_rate end)
    and (case when tiers.click_rate_strictly_above then rates.click_rate > tiers.min_click_rate
        else rates.click_rate >= tiers.min_click_rate end)
    and (rates.has_recent_purchase or not tiers.requires_recent_purchase)
qualify row_number() over (partition by rates.customer_key order by tiers.tier_rank) = 1;

create table segment_membership as
with revenue_threshold as (
    select quantile_cont(lifetime_revenue, getvariable('high_value_revenue_percentile')) as threshold
    from customer_profiles
    where lifetime_orders > 0
)

select 'at_risk_lapsing' as segment_name, customer_key
from customer_rfm
where list_contains(getvariable('at_risk_rfm_segments'), rfm_segment)
union all
select 'engaged_but_inactive', engagement.customer_key
from customer_engagement as engagement
inner join customer_rfm as rfm on engagement.customer_key = rfm.customer_key
where engagement.emails_opened >= getvariable('engaged_inactive_min_emails_opened')
    and engagement.open_rate >= getvariable('engaged_inactive_min_open_rate')
    and (rfm.recency_days is null or rfm.recency_days > getvariable('engaged_inactive_days_without_purchase'))
union all
select 'high_value_repeat_buyers', customer_key
from customer_profiles, revenue_threshold
where lifetime_orders >= getvariable('high_value_min_orders') and lifetime_revenue >= revenue_threshold.threshold
union all
select 'new_customers', customer_key
from customer_profiles
where first_order_at >= getvariable('as_of') - to_days(getvariable('new_customer_days'))
union all
select 'win_back', customer_key
from customer_profiles
where last_order_at < getvariable('as_of') - to_days(getvariable('win_back_min_days_since_purchase'))
    and last_order_at >= getvariable('as_of') - to_days(getvariable('win_back_max_days_since_purchase'));
