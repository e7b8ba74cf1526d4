{#- One row per customer: who they are (without direct identifiers: e-mail, names, phone and CRM id
    live in restricted.customer_contact_details), whether they may be e-mailed,
    what they bought and browsed, and when they like to read e-mail. Everything is as of the run's
    as_of. The preferred send hour and weekday are the customer's own when backed by at least
    var send_time_min_engagements human opens or clicks, else the most common preference of their
    RFM segment, else of everyone. -#}
with run_parameters as (
    select {{ as_of() }} as as_of
),

customers as (
    select
        customers.customer_key,
        customers.customer_type,
        customers.contact_id,
        customers.merged_contacts,
        consent.is_email_valid,
        consent.consent_status,
        consent.consent_status_since,
        consent.is_contactable
    from {{ ref('int_customers_resolved') }} as customers
    inner join {{ ref('int_customer_consent_resolved') }} as consent
        on customers.customer_key = consent.customer_key
),

attributes as (
    select *
    from {{ ref('int_contact_versions_tracked') }}
    where is_current
),

orders as (
    select
        customer_key,
        min(case when is_purchase then ordered_at end) as first_order_at,
        max(case when is_purchase then ordered_at end) as last_order_at,
        sum(case when is_purchase then 1 else 0 end) as lifetime_orders,
        sum(case when is_purchase then total_reporting else 0 end) as lifetime_revenue,
        sum(case when order_status = 'refunded' then 1 else 0 end) as refunded_orders
    from {{ ref('int_orders_attributed') }}
    where customer_key is not null
    group by customer_key
),

category_scores as (
    select
        customer_key,
        category,
        row_number() over (
            partition by customer_key
            order by round(sum(weighted_interest * {{ decay_weight('activity_date', as_of()) }}), 6) desc, category
        ) as category_rank
    from {{ ref('int_customer_category_interest_daily') }}
    group by customer_key, category
),

last_viewed as (
    select
        customer_key,
        product_id,
        event_at,
        row_number() over (partition by customer_key order by event_at desc, event_id desc) as view_rank
    from {{ ref('int_web_events_attributed') }}
    where is_usable and event_type = 'product_view' and product_id is not null
),

last_bought as (
    select
        customer_key,
        product_id,
        ordered_at,
        row_number() over (partition by customer_key order by ordered_at desc, order_line_key desc) as buy_rank
    from {{ ref('int_order_lines_enriched') }}
    where is_purchase and customer_key is not null
),

web_activity as (
    select
        customer_key,
        max(last_event_at) as last_web_event_at
    from {{ ref('int_customer_web_activity_daily') }}
    group by customer_key
),

devices as (
    select
        customer_key,
        device_type,
        row_number() over (partition by customer_key order by sum(events) desc, device_type) as device_rank
    from {{ ref('int_customer_devices_daily') }}
    group by customer_key, device_type
),

own_send_times as (
    select *
    from {{ ref('int_customer_send_times_learned') }}
    where engagements >= {{ var('send_time_min_engagements') }}
),

segment_send_times as (
    select
        rfm.rfm_segment,
        own_send_times.preferred_send_hour,
        own_send_times.preferred_send_weekday_number,
        row_number() over (
            partition by rfm.rfm_segment
            order by count(*) desc, own_send_times.preferred_send_hour, own_send_times.preferred_send_weekday_number asc
        ) as popularity_rank
    from own_send_times
    inner join {{ ref('customer_rfm') }} as rfm
        on own_send_times.customer_key = rfm.customer_key
    group by rfm.rfm_segment, own_send_times.preferred_send_hour, own_send_times.preferred_send_weekday_number
),

global_send_time as (
    select
        preferred_send_hour,
        preferred_send_weekday_number
    from own_send_times
    group by preferred_send_hour, preferred_send_weekday_number
    order by count(*) desc, preferred_send_hour, preferred_send_weekday_number asc
    limit 1
),

send_times as (
    select
        customers.customer_key,
        coalesce(
            own_send_times.preferred_send_hour,
            segment_send_times.preferred_send_hour,
            global_send_time.preferred_send_hour
        ) as preferred_send_hour,
        coalesce(
            own_send_times.preferred_send_weekday_number,
            segment_send_times.preferred_send_weekday_number,
            global_send_time.preferred_send_weekday_number
        ) as preferred_send_weekday_number,
        case
            when own_send_times.customer_key is not null then 'customer'
            when segment_send_times.rfm_segment is not null then 'rfm_segment'
            when global_send_time.preferred_send_hour is not null then 'all_customers'
        end as send_time_source
    from customers
    left join own_send_times
        on customers.customer_key = own_send_times.customer_key
    left join {{ ref('customer_rfm') }} as rfm
        on customers.customer_key = rfm.customer_key
    left join segment_send_times
        on rfm.rfm_segment = segment_send_times.rfm_segment and segment_send_times.popularity_rank = 1
    left join global_send_time
        on true
)

select
    customers.customer_key,
    customers.customer_type,
    cast(customers.merged_contacts as bigint) as merged_contacts,
    customers.is_email_valid,
    attributes.gender,
    attributes.birth_date,
    {{ age_in_years('attributes.birth_date', 'run_parameters.as_of') }} as age_years,
    attributes.country_code,
    attributes.city,
    attributes.postal_code,
    attributes.income_band,
    attributes.loyalty_tier,
    attributes.signup_at,
    cast(
        {{ days_between('coalesce(attributes.signup_at, orders.first_order_at)', 'run_parameters.as_of') }} as bigint
    )
        as tenure_days,
    customers.consent_status,
    customers.consent_status_since,
    customers.is_contactable,
    coalesce(attributes.tracking_consent, false) as has_tracking_consent,
    orders.first_order_at,
    orders.last_order_at,
    cast(coalesce(orders.lifetime_orders, 0) as bigint) as lifetime_orders,
    cast(coalesce(orders.lifetime_revenue, 0) as decimal(18, 2)) as lifetime_revenue,
    cast(orders.lifetime_revenue / nullif(orders.lifetime_orders, 0) as decimal(18, 2)) as average_order_value,
    cast(coalesce(orders.refunded_orders, 0) as bigint) as refunded_orders,
    category_scores.category as favourite_category,
    last_viewed.product_id as last_product_viewed_id,
    last_viewed.event_at as last_product_viewed_at,
    last_bought.product_id as last_product_bought_id,
    last_bought.ordered_at as last_product_bought_at,
    greatest(
        coalesce(web_activity.last_web_event_at, orders.last_order_at),
        coalesce(orders.last_order_at, web_activity.last_web_event_at)
    ) as last_seen_at,
    devices.device_type as preferred_device,
    send_times.preferred_send_hour,
    case send_times.preferred_send_weekday_number
        when 0 then 'Sunday'
        when 1 then 'Monday'
        when 2 then 'Tuesday'
        when 3 then 'Wednesday'
        when 4 then 'Thursday'
        when 5 then 'Friday'
        when 6 then 'Saturday'
    end as preferred_send_weekday,
    send_times.send_time_source,
    run_parameters.as_of
from customers
cross join run_parameters
left join attributes
    on customers.contact_id = attributes.contact_id
left join orders
    on customers.customer_key = orders.customer_key
left join category_scores
    on customers.customer_key = category_scores.customer_key and category_scores.category_rank = 1
left join last_viewed
    on customers.customer_key = last_viewed.customer_key and last_viewed.view_rank = 1
left join last_bought
    on customers.customer_key = last_bought.customer_key and last_bought.buy_rank = 1
left join web_activity
    on customers.customer_key = web_activity.customer_key
left join devices
    on customers.customer_key = devices.customer_key and devices.device_rank = 1
left join send_times
    on customers.customer_key = send_times.customer_key
