{#- Every address that must never be exported, with the reason the sync engine checks each row
    against: the address of every customer who is not contactable, and every address a consent fact
    names — ESP unsubscribe, bounce or complaint, privacy request, a consent row suppressed on doubt
    — even when it belongs to no known customer. An address that is the current e-mail of a
    contactable customer is left out, unless a fact about it was suppressed on doubt: that
    customer's timeline already weighed the fact and found a later opt-in (bounces and complaints
    never lose to one). -#}
with customers as (
    select
        email,
        customer_key,
        case consent_status
            when 'unsubscribed' then 'unsubscribed'
            when 'opted_out' then 'opted_out'
            when 'bounced' then 'bounced'
            when 'complained' then 'complained'
            when 'invalid_email' then 'invalid_email'
            when 'suppressed_on_doubt' then 'suppressed_on_doubt'
            else 'not_opted_in'
        end as reason
    from {{ ref('int_customer_consent_resolved') }}
    where not is_contactable
),

reconsented as (
    select email
    from {{ ref('int_customer_consent_resolved') }}
    where is_contactable and email is not null
),

addresses as (
    select
        consent_events.email,
        cast(null as {{ dbt.type_string() }}) as customer_key,
        case
            when consent_events.is_suppressed_on_doubt then 'suppressed_on_doubt'
            when consent_events.consent_source = 'esp_unsubscribe' then 'unsubscribed'
            when consent_events.consent_source = 'esp_bounce' then 'bounced'
            when consent_events.consent_source = 'esp_complaint' then 'complained'
            else 'opted_out'
        end as reason
    from {{ ref('int_consent_events_collected') }} as consent_events
    left join reconsented
        on consent_events.email = reconsented.email
    where
        consent_events.email is not null
        and consent_events.consent_effect in ('opt_out', 'bounce', 'complaint')
        and (consent_events.contact_id is null or consent_events.consent_source not like 'crm_%')
        and (
            reconsented.email is null
            or consent_events.is_suppressed_on_doubt
            or consent_events.consent_effect in ('bounce', 'complaint')
        )
)

select distinct
    email,
    customer_key,
    reason,
    {{ as_of() }} as as_of
from (
    select * from customers
    union all
    select * from addresses
) as suppressed
