{#- Every e-mail event before as_of with its customer (by contact id, else by the e-mail of a known
    contact or guest) and, for opens, whether a privacy proxy made it: an open within
    var machine_open_max_seconds_after_delivery of the delivery is not a person reading. Delivery is
    the `delivered` event; an export without one falls back to `sent`, unless the e-mail bounced. -#}
with events as (
    select *
    from {{ ref('stg_email__events') }}
    where {{ before_as_of('event_at') }}
),

by_contact as (
    {{ customer_keys_by('contact_id') }}
),

by_email as (
    {{ customer_keys_by('email') }}
),

attributed as (
    select
        events.*,
        coalesce(by_contact.customer_key, by_email.customer_key) as customer_key,
        coalesce(
            by_contact.customer_key, by_email.customer_key, 'email:' || events.email, 'contact:' || events.contact_id
        ) as recipient_key
    from events
    left join by_contact
        on events.contact_id = by_contact.contact_id
    left join by_email
        on events.email = by_email.email
),

deliveries as (
    select
        campaign_id,
        recipient_key,
        coalesce(
            min(case when event_type = 'delivered' then event_at end),
            case
                when max(case when event_type = 'bounce' then 1 else 0 end) = 0
                    then min(case when event_type = 'sent' then event_at end)
            end
        ) as delivered_at
    from attributed
    where event_type in ('delivered', 'sent', 'bounce')
    group by campaign_id, recipient_key
)

select
    attributed.event_id,
    attributed.campaign_id,
    attributed.contact_id,
    attributed.email,
    attributed.customer_key,
    attributed.recipient_key,
    attributed.event_type,
    attributed.event_at,
    attributed.url,
    deliveries.delivered_at,
    coalesce(
        attributed.event_type = 'open'
        and deliveries.delivered_at is not null
        and {{ dbt.datediff('deliveries.delivered_at', 'attributed.event_at', 'second') }}
        <= {{ var('machine_open_max_seconds_after_delivery') }},
        false
    ) as is_machine_open
from attributed
left join deliveries
    on attributed.campaign_id = deliveries.campaign_id and attributed.recipient_key = deliveries.recipient_key
