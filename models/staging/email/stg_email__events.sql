{{
    config(
        materialized=landing_materialization(),
        unique_key='event_id',
        post_hook="{{ delete_unbacked_keys(ref('base_email__events'), 'event_id') }}",
    )
}}

{#- One row per e-mail event; a re-sent event (same event_id) counts once. -#}
with first_copies as (
    {{ first_valid_rows(
        ref('base_email__events'),
        key='event_id',
        order_by='event_at, _landing_file, _landing_row',
        parse_batch=true
    ) }}
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
    _landing_file as landing_file,
    _valid_rows,
    _key_parsed_at as _parsed_at
from first_copies
