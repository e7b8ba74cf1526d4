{#- Per customer and day: usable web activity (human, attributed, consented), the grain from which
    every rolling window and decayed score is computed at any cutoff. -#}
with events as (
    select
        events.customer_key,
        cast(events.event_at as date) as activity_date,
        events.event_type,
        events.event_at,
        coalesce(weights.weight, 0) as weight
    from {{ ref('int_web_events_attributed') }} as events
    left join {{ ref('behaviour_event_weights') }} as weights
        on events.event_type = weights.event_type
    where events.is_usable
),

sessions as (
    select
        customer_key,
        cast(started_at as date) as activity_date,
        count(*) as sessions
    from {{ ref('int_web_sessions_sessionized') }}
    where is_usable and customer_key is not null
    group by customer_key, cast(started_at as date)
),

daily_events as (
    select
        customer_key,
        activity_date,
        count(*) as events,
        sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
        sum(case when event_type = 'product_view' then 1 else 0 end) as product_views,
        sum(case when event_type = 'add_to_cart' then 1 else 0 end) as add_to_carts,
        sum(case when event_type = 'begin_checkout' then 1 else 0 end) as checkouts,
        sum(case when event_type = 'purchase' then 1 else 0 end) as purchase_events,
        sum(weight) as weighted_actions,
        max(event_at) as last_event_at
    from events
    group by customer_key, activity_date
)

select
    daily_events.customer_key,
    daily_events.activity_date,
    coalesce(sessions.sessions, 0) as sessions,
    daily_events.events,
    daily_events.page_views,
    daily_events.product_views,
    daily_events.add_to_carts,
    daily_events.checkouts,
    daily_events.purchase_events,
    daily_events.weighted_actions,
    daily_events.last_event_at
from daily_events
left join sessions
    on
        daily_events.customer_key = sessions.customer_key
        and daily_events.activity_date = sessions.activity_date
