{#- Everyone who must never be exported, with the reason the sync engine checks each row against:
    every customer who is not contactable (consent_status mapped to the engine's reasons), and
    every address an ESP unsubscribe, bounce or complaint or a privacy opt-out or erasure request
    names, even when it belongs to no known customer. An address that is the current e-mail of a
    contactable customer is left out: that customer's consent timeline already weighed the fact and
    found a later opt-in (bounces, complaints and erasures never lose to one). -#}
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
            when 'erasure_requested' then 'erasure_requested'
            else 'not_opted_in'
        end as reason
    from {{ ref('int_customer_consent_resolved') }}
    where not is_contactable
),

addresses as (
    select
        email,
        cast(null as varchar) as customer_key,
        case consent_source
            when 'esp_unsubscribe' then 'unsubscribed'
            when 'esp_bounce' then 'bounced'
            when 'esp_complaint' then 'complained'
            when 'privacy_opt_out' then 'opted_out'
            when 'privacy_erasure' then 'erasure_requested'
        end as reason
    from {{ ref('int_consent_events_collected') }} as consent_events
    where
        email is not null
        and consent_source in ('esp_unsubscribe', 'esp_bounce', 'esp_complaint', 'privacy_opt_out', 'privacy_erasure')
        and not exists (
            select 1
            from {{ ref('int_customer_consent_resolved') }} as reconsented
            where reconsented.email = consent_events.email and reconsented.is_contactable
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
