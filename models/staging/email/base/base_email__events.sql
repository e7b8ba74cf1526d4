{{
    config(
        materialized=landing_materialization(),
        unique_key='_landing_file',
        post_hook="{{ delete_unlanded_and_erased_rows('email', 'events') }}",
    )
}}
{#- Every landed e-mail engagement event, parsed, with the first rule it breaks. Machine opens are
    recognized downstream; here an event is only checked for being well-formed and addressable.
    Types are read as ESPs spell them (var email_event_type_spellings), and any spelling that
    carries consent (var email_consent_type_patterns: 'Unsubscribed', 'spam_report', 'HardBounce')
    is that consent fact. A consent event that breaks a rule here is still a consent fact:
    int_consent_events_collected reads every row of this model, not only the valid ones. -#}
-- depends_on: {{ source('landing_audit', 'landing_files') }}
with landed as (
    {{ landed_rows('email', 'events', time_column='event_at') }}
),

parsed as (
    select
        {{ clean_text('event_id') }} as event_id,
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email,
        {{ canonical_type('event_type', var('email_event_type_spellings'), var('email_consent_type_patterns')) }}
            as event_type,
        {{ clean_text('event_type') }} as event_type_text,
        {{ timestamp_columns('event_at') }},
        {{ clean_text('url') }} as url,
        {{ landing_lineage_columns(parse_batch=true) }}
    from landed
),

checked as (
    select
        *,
        {{ is_valid_email('email') }} as is_email_valid,
        coalesce(event_id, landing_row_hash) as row_key,
        case
            when event_id is null then 'missing_event_id'
            {{ required_timestamp_rules('event_at') }}
            when event_type_text is null then 'missing_event_type'
            when event_type is null then 'unknown_event_type'
            when contact_id is null and not {{ is_valid_email('email') }} then 'missing_recipient'
        end as rejection_rule
    from parsed
)

select
    *,
    case rejection_rule
        {{ required_timestamp_details('event_at') }}
        when 'unknown_event_type' then event_type_text
        when 'missing_recipient' then email
    end as rejection_detail
from checked
