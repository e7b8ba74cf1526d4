{#- Every fact about a person's permission to be e-mailed, known before as_of, in one timeline:
    CRM opt-in states (at opt_in_at when given, else when the version was written), ESP
    unsubscribes, bounces and complaints, privacy opt-outs and erasure requests (a request whose
    date is unreadable counts from the beginning), and CRM versions that could not be placed in
    time but did not say "opted in" (`ambiguous`). Each fact names a contact, an e-mail or both. -#}
with crm_states as (
    select
        contact_id,
        email,
        case when email_opt_in then 'opt_in' else 'opt_out' end as consent_effect,
        case when email_opt_in then 'crm_opt_in' else 'crm_not_opted_in' end as consent_source,
        case when email_opt_in then coalesce(opt_in_at, valid_from) else valid_from end as effective_at
    from {{ ref('int_contact_versions_tracked') }}
),

unplaceable_crm_versions as (
    select
        contact_id,
        email,
        'ambiguous' as consent_effect,
        'crm_version_without_time' as consent_source,
        cast('1900-01-01' as timestamp) as effective_at
    from {{ ref('base_crm__contacts') }}
    where
        rejection_rule in ('missing_updated_at', 'unparseable_updated_at')
        and contact_id is not null
        and not coalesce(email_opt_in, false)
),

esp_events as (
    select
        contact_id,
        email,
        case event_type
            when 'unsubscribe' then 'opt_out'
            when 'bounce' then 'bounce'
            when 'complaint' then 'complaint'
        end as consent_effect,
        'esp_' || event_type as consent_source,
        event_at as effective_at
    from {{ ref('stg_email__events') }}
    where
        event_type in ('unsubscribe', 'bounce', 'complaint')
        and {{ before_as_of('event_at') }}
),

privacy_requests as (
    select
        contact_id,
        email,
        case request_type when 'erasure' then 'erasure' else 'opt_out' end as consent_effect,
        'privacy_' || request_type as consent_source,
        coalesce(requested_at, cast('1900-01-01' as timestamp)) as effective_at
    from {{ ref('stg_privacy__requests') }}
    where requested_at is null or {{ before_as_of('requested_at') }}
)

select * from crm_states
union all
select * from unplaceable_crm_versions
union all
select * from esp_events
union all
select * from privacy_requests
