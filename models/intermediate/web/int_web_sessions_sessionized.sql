{{
    config(
        materialized=landing_materialization(),
        unique_key='visitor_id',
        post_hook="{{ delete_rows_no_longer_in(ref('int_web_events_attributed'), 'visitor_id', 'not source.is_bot', 'sum(events)') }}",
    )
}}
{#- Visits: a visitor's human (non-bot) events split wherever the gap between two events exceeds
    var session_inactivity_minutes. Incremental on DuckDB, by visitor: a run splits again every
    event of the visitors int_web_events_attributed rewrote since (a later _attributed_at) or
    whose human events are fewer or more than its sessions hold. -#}
{{ require_batch_columns(['_attributed_at']) }}
with
{% if is_incremental() %}
    visitors_attributed as (
        select
            visitor_id,
            count(*) as events,
            max(_attributed_at) as attributed_at
        from {{ ref('int_web_events_attributed') }}
        where not is_bot
        group by visitor_id
    ),

    visitors_sessionized as (
        select
            visitor_id,
            sum(events) as events,
            max(_attributed_at) as attributed_at
        from {{ this }}
        group by visitor_id
    ),

    visitors_to_split as (
        select visitors_attributed.visitor_id
        from visitors_attributed
        left join visitors_sessionized
            on visitors_attributed.visitor_id = visitors_sessionized.visitor_id
        where
            visitors_sessionized.visitor_id is null
            or visitors_sessionized.events <> visitors_attributed.events
            or visitors_sessionized.attributed_at <> visitors_attributed.attributed_at
    ),
{% endif %}

events as (
    select *
    from {{ ref('int_web_events_attributed') }}
    where not is_bot
    {% if is_incremental() %}
        and visitor_id in (select visitors_to_split.visitor_id from visitors_to_split)
    {% endif %}
),

gaps as (
    select
        *,
        case
            when
                lag(event_at) over (partition by visitor_id order by event_at, event_id) is null
                or {{ dbt.datediff(
                    'lag(event_at) over (partition by visitor_id order by event_at, event_id)',
                    'event_at',
                    'second'
                ) }} > 60 * {{ var('session_inactivity_minutes') }}
                then 1
            else 0
        end as starts_session
    from events
),

numbered as (
    select
        *,
        sum(starts_session) over (
            partition by visitor_id order by event_at, event_id rows unbounded preceding
        ) as session_number
    from gaps
)

select
    {{ dbt.hash("visitor_id || '#' || cast(session_number as " ~ dbt.type_string() ~ ")") }} as session_key,
    visitor_id,
    session_number,
    max(customer_key) as customer_key,
    bool_or(is_usable) as is_usable,
    min(event_at) as started_at,
    max(event_at) as ended_at,
    count(*) as events,
    sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
    sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
    sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
    sum(case when event_type = 'begin_checkout' then 1 else 0 end) as checkouts,
    sum(case when event_type = 'purchase' then 1 else 0 end) as purchases,
    min(device_type) as device_type,
    min(utm_source) as utm_source,
    min(utm_medium) as utm_medium,
    min(utm_campaign) as utm_campaign,
    max(_attributed_at) as _attributed_at
from numbered
group by visitor_id, session_number
