{#- Every landed data-subject request, parsed. A request is never rejected for its timestamp: an
    erasure or opt-out must be honoured even when its date is unreadable (or implausibly in the
    future), so such a request takes effect from the beginning of time (requested_at null,
    is_requested_at_known false). Types are read as people spell them (var
    privacy_request_type_patterns); a type that matches none is quarantined for a person to read,
    and int_consent_events_collected still suppresses whoever the request names. Erasure requests
    never reach this model: their people are tombstoned (privacy.erasure_tombstones) and dropped. -#}
with landed as (
    {{ landed_rows('privacy', 'requests') }}
),

parsed as (
    select
        {{ clean_text('request_id') }} as request_id,
        {{ clean_text('contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email,
        {{ clean_text('request_type') }} as request_type_text,
        {{ canonical_type(
            'request_type', var('privacy_request_type_spellings'), var('privacy_request_type_patterns')
        ) }} as request_type,
        {{ parse_timestamp('requested_at') }} as requested_at_parsed,
        {{ landing_lineage_columns() }}
    from landed
),

checked as (
    select
        *,
        case when requested_at_parsed <= {{ latest_plausible_time() }} then requested_at_parsed end as requested_at,
        coalesce(requested_at_parsed <= {{ latest_plausible_time() }}, false) as is_requested_at_known,
        {{ is_valid_email('email') }} as is_email_valid,
        coalesce(request_id, landing_row_hash) as row_key,
        case
            when request_type is null then 'unknown_request_type'
            when contact_id is null and not {{ is_valid_email('email') }} then 'missing_requester'
        end as rejection_rule
    from parsed
)

select
    request_id,
    contact_id,
    email,
    request_type_text,
    request_type,
    requested_at,
    is_requested_at_known,
    is_email_valid,
    row_key,
    rejection_rule,
    case rejection_rule
        when 'unknown_request_type' then request_type_text
        when 'missing_requester' then email
    end as rejection_detail,
    _landing_file,
    _landing_row,
    landing_row_hash,
    landed_row
from checked
