{{
    config(
        materialized=landing_materialization(),
        unique_key='_landing_file',
        post_hook="{{ delete_unlanded_and_erased_rows('web', 'events') }}",
    )
}}
{#- Every landed web event, parsed, with the first rule it breaks. Bots, consent and identity are
    dealt with downstream: here an event is only checked for being well-formed. -#}
-- depends_on: {{ source('landing_audit', 'landing_files') }}
with landed as (
    {{ landed_rows('web', 'events', time_column='event_at') }}
),

parsed as (
    select
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('anonymous_id') }} as anonymous_id,
        {{ clean_text('contact_id') }} as contact_id,
        lower({{ clean_text('event_type') }}) as event_type,
        {{ timestamp_columns('event_at') }},
        {{ clean_text('page_url') }} as page_url,
        {{ canonical_product_id('product_id') }} as product_id,
        lower({{ clean_text('category') }}) as category,
        lower({{ clean_text('device_type') }}) as device_type,
        lower({{ clean_text('utm_source') }}) as utm_source,
        lower({{ clean_text('utm_medium') }}) as utm_medium,
        {{ clean_text('utm_campaign') }} as utm_campaign,
        {{ landing_lineage_columns(parse_batch=true) }}
    from landed
),

checked as (
    select
        *,
        coalesce(event_id, landing_row_hash) as row_key,
        case
            when event_id is null then 'missing_event_id'
            {{ required_timestamp_rules('event_at') }}
            when event_type is null then 'missing_event_type'
            when not {{ is_one_of('event_type', var('web_event_types')) }} then 'unknown_event_type'
            when anonymous_id is null and contact_id is null then 'missing_visitor_id'
        end as rejection_rule
    from parsed
)

select
    *,
    case rejection_rule
        {{ required_timestamp_details('event_at') }}
        when 'unknown_event_type' then event_type
    end as rejection_detail
from checked
