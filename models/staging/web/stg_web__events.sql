{#- One row per web event. A tracker that re-sends an event repeats its event_id: the earliest
    copy is kept. -#}
with valid_events as (
    select *
    from {{ ref('base_web__events') }}
    where rejection_rule is null
),

ranked as (
    select
        *,
        row_number() over (
            partition by event_id
            order by event_at, _landing_file, _landing_row
        ) as copy_rank
    from valid_events
)

select
    event_id,
    anonymous_id,
    contact_id,
    event_type,
    event_at,
    page_url,
    product_id,
    category,
    device_type,
    utm_source,
    utm_medium,
    utm_campaign,
    _landing_file as landing_file
from ranked
where copy_rank = 1
