{#- Every web visitor (device, or contact when no device id) with its peak event rates; a
    visitor above var bot_max_events_per_minute or bot_max_events_per_day is a bot. -#}
with events as (
    select
        {{ web_visitor_id() }} as visitor_id,
        event_at
    from {{ ref('stg_web__events') }}
    where {{ before_as_of('event_at') }}
),

per_minute as (
    select
        visitor_id,
        {{ dbt.date_trunc('minute', 'event_at') }} as event_minute,
        count(*) as events
    from events
    group by visitor_id, {{ dbt.date_trunc('minute', 'event_at') }}
),

per_day as (
    select
        visitor_id,
        {{ dbt.date_trunc('day', 'event_at') }} as event_day,
        count(*) as events
    from events
    group by visitor_id, {{ dbt.date_trunc('day', 'event_at') }}
),

peaks as (
    select
        per_minute.visitor_id,
        max(per_minute.events) as max_events_per_minute,
        sum(per_minute.events) as events
    from per_minute
    group by per_minute.visitor_id
),

daily_peaks as (
    select
        visitor_id,
        max(events) as max_events_per_day
    from per_day
    group by visitor_id
)

select
    peaks.visitor_id,
    peaks.events,
    peaks.max_events_per_minute,
    daily_peaks.max_events_per_day,
    (
        peaks.max_events_per_minute > {{ var('bot_max_events_per_minute') }}
        or daily_peaks.max_events_per_day > {{ var('bot_max_events_per_day') }}
    ) as is_bot
from peaks
inner join daily_peaks
    on peaks.visitor_id = daily_peaks.visitor_id
