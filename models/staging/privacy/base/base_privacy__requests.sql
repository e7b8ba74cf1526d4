{#- Every landed data-subject request, parsed. A request is never rejected for its timestamp: an
    erasure must be honoured even when its date is unreadable, so such a request takes effect from
    the beginning of time (requested_at null, is_requested_at_known false). Common spellings of the
    two request types are accepted; anything else is quarantined for a person to read. -#}
with landed as (
    select
        *,
        {{ landed_row_json() }} as landed_row
    from {{ source('privacy', 'requests') }}
),

parsed as (
    select
        {{ clean_text('request_id') }} as request_id,
        {{ clean_text('contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email,
        lower({{ clean_text('request_type') }}) as request_type_text,
        case
            when lower(trim(request_type)) in (
                    'erasure', 'erase', 'delete', 'deletion', 'forget', 'right_to_be_forgotten', 'right_to_erasure'
                ) then 'erasure'
            when lower(trim(request_type)) in ('opt_out', 'opt-out', 'optout', 'unsubscribe', 'do_not_contact')
                then 'opt_out'
        end as request_type,
        {{ parse_timestamp('requested_at') }} as requested_at,
        _landing_file,
        _landing_row,
        {{ dbt.hash('landed_row') }} as landing_row_hash,
        landed_row
    from landed
),

checked as (
    select
        *,
        requested_at is not null as is_requested_at_known,
        {{ is_valid_email('email') }} as is_email_valid,
        coalesce(request_id, landing_row_hash) as row_key,
        case
            when request_type is null then 'unknown_request_type'
            when contact_id is null and not {{ is_valid_email('email') }} then 'missing_requester'
        end as rejection_rule
    from parsed
)

select
    *,
    case rejection_rule
        when 'unknown_request_type' then request_type_text
        when 'missing_requester' then email
    end as rejection_detail
from checked
