{#- Every fact about a person's permission to be e-mailed, known before as_of, in one timeline.

    Fail closed: a consent-bearing row — ESP unsubscribe, bounce or complaint, privacy opt-out or
    request of any type, a CRM version saying "not opted in", a landed line too broken to parse —
    counts even when staging quarantines it, identified by whatever it names (contact id, any
    e-mail after full whitespace normalization). When its time cannot be trusted (missing,
    unreadable, implausibly in the future) it is `suppressed_on_doubt`: in force from the
    beginning, and no opt-in ever overrides it.

    An opt-in is an act, not an edit: only a CRM version whose flag turns from not-yes to yes
    (the first version included) is an opt-in, at its opt_in_at when that is plausible (after the
    previous version, not before sign-up, not after the version itself), else at the version's
    time. A later edit that keeps the flag is no new opt-in; several versions stamped with the
    same time say yes only if all of them do. -#}
with crm_versions as (
    select
        contact_id,
        updated_at as valid_from,
        max(email) as email,
        min(case when email_opt_in then 1 else 0 end) = 1 as says_opted_in,
        max(opt_in_at) as opt_in_at
    from {{ ref('base_crm__contacts') }}
    where
        rejection_rule is null
        and {{ before_as_of('updated_at') }}
    group by contact_id, updated_at
),

crm_signups as (
    select
        contact_id,
        min(signup_at) as signed_up_at
    from {{ ref('base_crm__contacts') }}
    where rejection_rule is null
    group by contact_id
),

crm_version_changes as (
    select
        crm_versions.*,
        crm_signups.signed_up_at,
        lag(crm_versions.says_opted_in) over (
            partition by crm_versions.contact_id order by crm_versions.valid_from
        ) as said_opted_in_before,
        lag(crm_versions.valid_from) over (
            partition by crm_versions.contact_id order by crm_versions.valid_from
        ) as previous_valid_from
    from crm_versions
    left join crm_signups
        on crm_versions.contact_id = crm_signups.contact_id
),

{# One fact per CRM version that says something: an opt-in where the flag turns to yes, a
    "not opted in" for every version that says no. #}
crm_version_facts as (
    select
        contact_id,
        email,
        case when says_opted_in then 'opt_in' else 'opt_out' end as consent_effect,
        case when says_opted_in then 'crm_opt_in' else 'crm_not_opted_in' end as consent_source,
        case
            when
                says_opted_in
                and opt_in_at <= valid_from
                and (previous_valid_from is null or opt_in_at > previous_valid_from)
                and (signed_up_at is null or opt_in_at >= signed_up_at)
                then opt_in_at
            else valid_from
        end as effective_at,
        false as is_suppressed_on_doubt,
        cast(null as {{ dbt.type_string() }}) as doubt_reason,
        'crm' as source_name,
        cast(null as {{ dbt.type_string() }}) as landing_file,
        cast(null as bigint) as landing_row
    from crm_version_changes
    where not says_opted_in or not coalesce(said_opted_in_before, false)
),

crm_doubts as (
    select
        contact_id,
        email,
        'opt_out' as consent_effect,
        'crm_not_opted_in' as consent_source,
        cast('1900-01-01' as timestamp) as effective_at,
        true as is_suppressed_on_doubt,
        rejection_rule as doubt_reason,
        'crm' as source_name,
        _landing_file as landing_file,
        _landing_row as landing_row
    from {{ ref('base_crm__contacts') }}
    where
        rejection_rule is not null
        and not coalesce(email_opt_in, false)
        and (contact_id is not null or email is not null)
),

esp_consent_rows as (
    select
        *,
        coalesce(event_at <= {{ latest_plausible_time() }}, false) as is_time_trusted
    from {{ ref('base_email__events') }}
    where
        event_type in ('unsubscribe', 'bounce', 'complaint')
        and (contact_id is not null or email is not null)
),

esp_events as (
    select
        contact_id,
        email,
        case event_type when 'unsubscribe' then 'opt_out' else event_type end as consent_effect,
        'esp_' || event_type as consent_source,
        case when is_time_trusted then event_at else cast('1900-01-01' as timestamp) end as effective_at,
        not is_time_trusted as is_suppressed_on_doubt,
        case
            {{ required_timestamp_rules('event_at') }}
        end as doubt_reason,
        'email' as source_name,
        _landing_file as landing_file,
        _landing_row as landing_row
    from esp_consent_rows
    where not is_time_trusted or {{ before_as_of('event_at') }}
),

privacy_requests as (
    select
        contact_id,
        email,
        'opt_out' as consent_effect,
        'privacy_' || coalesce(request_type, 'unknown_request') as consent_source,
        coalesce(requested_at, cast('1900-01-01' as timestamp)) as effective_at,
        (request_type is null or request_type <> 'opt_out' or requested_at is null) as is_suppressed_on_doubt,
        case
            when request_type is null then 'unknown_request_type'
            when request_type <> 'opt_out' then 'unhonoured_' || request_type || '_request'
            when requested_at is null then 'unknown_requested_at'
        end as doubt_reason,
        'privacy' as source_name,
        _landing_file as landing_file,
        _landing_row as landing_row
    from {{ ref('base_privacy__requests') }}
    where
        (contact_id is not null or email is not null)
        and (requested_at is null or {{ before_as_of('requested_at') }})
),

unreadable_lines as (
    {{ emails_in_rejected_lines(
        every_line_of=[('crm', 'contacts'), ('privacy', 'requests')],
        consent_lines_of=[('email', 'events')],
    ) }}
),

line_doubts as (
    select
        cast(null as {{ dbt.type_string() }}) as contact_id,
        email,
        'opt_out' as consent_effect,
        'unreadable_' || source_name || '_line' as consent_source,
        cast('1900-01-01' as timestamp) as effective_at,
        true as is_suppressed_on_doubt,
        'malformed_line' as doubt_reason,
        source_name,
        landing_file,
        landing_row
    from unreadable_lines
)

select * from crm_version_facts
union all
select * from crm_doubts
union all
select * from esp_events
union all
select * from privacy_requests
union all
select * from line_doubts
