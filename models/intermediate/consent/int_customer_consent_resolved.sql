{#- Each customer's effective permission to be e-mailed at as_of, from the consent timeline in
    time order. A fact recorded against a contact applies to that contact's customer; a fact
    recorded against an e-mail address only (ESP, privacy, unreadable lines, CRM rows without a
    contact id) applies to every customer who has had that address (a shared inbox unsubscribes
    everyone on it), except bounces, which only suppress an address the customer still uses.
    Precedence: complaint > bounce > suppressed on doubt (a consent fact whose time or type could
    not be trusted: no opt-in overrides it) > invalid e-mail > the latest opt-in or opt-out (a tie
    goes to the opt-out). Erased people never get here: staging drops them. -#}
with customers as (
    select
        customer_key,
        email
    from {{ ref('int_customers_resolved') }}
),

customer_contacts as (
    select
        contact_id,
        customer_key
    from {{ ref('int_contacts_merged') }}
),

customer_emails as (
    select distinct
        merged.customer_key,
        versions.email
    from {{ ref('int_contact_versions_tracked') }} as versions
    inner join {{ ref('int_contacts_merged') }} as merged
        on versions.contact_id = merged.contact_id
    where versions.email is not null
    union
    select
        customer_key,
        email
    from customers
    where email is not null
),

consent_events as (
    select * from {{ ref('int_consent_events_collected') }}
),

matched_by_contact as (
    select
        customer_contacts.customer_key,
        consent_events.*
    from consent_events
    inner join customer_contacts
        on consent_events.contact_id = customer_contacts.contact_id
),

matched_by_email as (
    select
        customer_emails.customer_key,
        consent_events.*
    from consent_events
    inner join customer_emails
        on consent_events.email = customer_emails.email
    where consent_events.contact_id is null or consent_events.consent_source not like 'crm_%'
),

matched as (
    select matched_events.*
    from (
        select * from matched_by_contact
        union all
        select * from matched_by_email
    ) as matched_events
    inner join customers
        on matched_events.customer_key = customers.customer_key
    where
        matched_events.consent_effect <> 'bounce'
        or matched_events.email is null
        or matched_events.email = customers.email
),

suppressions as (
    select
        customer_key,
        max(case when consent_effect = 'complaint' then effective_at end) as complained_at,
        max(case when consent_effect = 'bounce' then effective_at end) as bounced_at,
        max(case when is_suppressed_on_doubt then 1 else 0 end) = 1 as has_doubtful_fact
    from matched
    group by customer_key
),

ranked_choices as (
    select
        customer_key,
        consent_effect,
        consent_source,
        effective_at,
        row_number() over (
            partition by customer_key
            order by effective_at desc, case when consent_effect = 'opt_out' then 0 else 1 end
        ) as choice_rank
    from matched
    where consent_effect in ('opt_in', 'opt_out') and not is_suppressed_on_doubt
),

latest_choice as (
    select * from ranked_choices
    where choice_rank = 1
),

statuses as (
    select
        customers.customer_key,
        customers.email,
        {{ is_valid_email('customers.email') }} as is_email_valid,
        latest_choice.effective_at as latest_choice_at,
        case
            when suppressions.complained_at is not null then 'complained'
            when suppressions.bounced_at is not null then 'bounced'
            when coalesce(suppressions.has_doubtful_fact, false) then 'suppressed_on_doubt'
            when not {{ is_valid_email('customers.email') }} then 'invalid_email'
            when latest_choice.consent_effect = 'opt_in' then 'opted_in'
            when latest_choice.consent_source = 'esp_unsubscribe' then 'unsubscribed'
            when latest_choice.consent_source = 'privacy_opt_out' then 'opted_out'
            else 'not_opted_in'
        end as consent_status,
        case
            when suppressions.complained_at is not null then suppressions.complained_at
            when suppressions.bounced_at is not null then suppressions.bounced_at
            else latest_choice.effective_at
        end as consent_status_since
    from customers
    left join suppressions
        on customers.customer_key = suppressions.customer_key
    left join latest_choice
        on customers.customer_key = latest_choice.customer_key
)

select
    customer_key,
    email,
    is_email_valid,
    consent_status,
    consent_status_since,
    consent_status = 'opted_in' as is_contactable
from statuses
