{#- One row per e-mail event; a re-sent event (same event_id) counts once. -#}
with valid_events as (
    select *
    from {{ ref('base_email__events') }}
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
    campaign_id,
    contact_id,
    email,
    is_email_valid,
    event_type,
    event_at,
    url,
    _landing_file as landing_file
from ranked
where copy_rank = 1
