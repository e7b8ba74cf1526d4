{#- Per customer, day and device: usable web events, for the preferred device at any cutoff. -#}
select
    customer_key,
    cast(event_at as date) as activity_date,
    device_type,
    count(*) as events
from {{ ref('int_web_events_attributed') }}
where is_usable and device_type is not null
group by customer_key, cast(event_at as date), device_type
