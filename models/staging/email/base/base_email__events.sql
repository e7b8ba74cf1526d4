{#- Every landed e-mail engagement event, parsed, with the first rule it breaks. Machine opens are
    recognized downstream; here an event is only checked for being well-formed and addressable. -#}
with landed as (
    select
        *,
        {{ landed_row_json() }} as landed_row
    from {{ source('email', 'events') }}
),

parsed as (
    select
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email,
        lower({{ clean_text('event_type') }}) as event_type,
        {{ parse_timestamp('event_at') }} as event_at,
        {{ clean_text('event_at') }} as event_at_text,
        {{ clean_text('url') }} as url,
        _landing_file,
        _landing_row,
        {{ dbt.hash('landed_row') }} as landing_row_hash,
        landed_row
    from landed
),

checked as (
    select
        *,
        {{ is_valid_email('email') }} as is_email_valid,
        coalesce(event_id, landing_row_hash) as row_key,
        case
            when event_id is null then 'missing_event_id'
            when event_at_text is null then 'missing_event_at'
            when event_at is null then 'unparseable_event_at'
            when event_type is null then 'missing_event_type'
            when not {{ is_one_of('event_type', var('email_event_types')) }} then 'unknown_event_type'
            when contact_id is null and not {{ is_valid_email('email') }} then 'missing_recipient'
        end as rejection_rule
    from parsed
)

select
    *,
    case rejection_rule
        when 'unparseable_event_at' then event_at_text
        when 'unknown_event_type' then event_type
        when 'missing_recipient' then email
    end as rejection_detail
from checked
