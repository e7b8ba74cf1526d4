{#- Identifiers the identity graph refused to use because they link more contacts than
    var identity_max_contacts_per_identifier (a shared family inbox, a shop-floor device), with
    the contacts involved and what stayed unattributed because of them. -#}
with ambiguous as (
    select *
    from {{ ref('int_identifiers_resolved') }}
    where resolution = 'ambiguous'
),

contacts as (
    select
        identifier_type,
        identifier_value,
        {{ dbt.listagg('distinct contact_id', "', '", "order by contact_id") }} as contact_ids
    from {{ ref('int_identity_links_collected') }}
    group by identifier_type, identifier_value
),

unattributed_orders as (
    select
        email,
        count(*) as orders
    from {{ ref('int_orders_attributed') }}
    where attribution_method = 'unattributed_shared_email'
    group by email
),

unattributed_web_events as (
    select
        anonymous_id,
        count(*) as events
    from {{ ref('int_web_events_attributed') }}
    where attribution_method = 'anonymous_shared_device'
    group by anonymous_id
)

select
    ambiguous.identifier_type,
    ambiguous.identifier_value,
    ambiguous.linked_contacts,
    contacts.contact_ids,
    coalesce(unattributed_orders.orders, 0) as unattributed_orders,
    coalesce(unattributed_web_events.events, 0) as unattributed_web_events,
    ambiguous.first_observed_at,
    ambiguous.last_observed_at,
    {{ as_of() }} as as_of
from ambiguous
left join contacts
    on ambiguous.identifier_type = contacts.identifier_type and ambiguous.identifier_value = contacts.identifier_value
left join unattributed_orders
    on ambiguous.identifier_type = 'email' and ambiguous.identifier_value = unattributed_orders.email
left join unattributed_web_events
    on ambiguous.identifier_type = 'anonymous_id' and ambiguous.identifier_value = unattributed_web_events.anonymous_id
