{{
    config(
        materialized=landing_materialization(),
        unique_key='event_id',
        post_hook="{{ delete_unbacked_keys(ref('base_web__events'), 'event_id') }}",
    )
}}

{#- One row per web event. A tracker that re-sends an event repeats its event_id: the earliest
    copy is kept. -#}
with first_copies as (
    {{ first_valid_rows(
        ref('base_web__events'),
        key='event_id',
        order_by='event_at, _landing_file, _landing_row',
        parse_batch=true
    ) }}
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
    _landing_file as landing_file,
    _valid_rows,
    _key_parsed_at as _parsed_at
from first_copies
