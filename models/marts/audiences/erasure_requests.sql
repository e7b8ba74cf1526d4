{#- Every erasure request in force at as_of, once per address the person has used (the request's
    own e-mail and every e-mail of the contact it names), for the sync engine to propagate to each
    ESP's deletion API. -#}
with requests as (
    select
        request_key,
        contact_id,
        email,
        requested_at
    from {{ ref('stg_privacy__requests') }}
    where
        request_type = 'erasure'
        and (requested_at is null or {{ before_as_of('requested_at') }})
),

addresses as (
    select
        request_key,
        email
    from requests
    where email is not null
    union
    select
        requests.request_key,
        versions.email
    from requests
    inner join {{ ref('base_crm__contacts') }} as versions
        on requests.contact_id = versions.contact_id
    where versions.email is not null
),

customers as (
    select
        identifier_type,
        identifier_value,
        customer_key
    from {{ ref('int_identifiers_mapped') }}
    where customer_key is not null
)

select
    requests.request_key as request_id,
    coalesce(by_contact.customer_key, by_email.customer_key) as customer_key,
    addresses.email,
    requests.requested_at,
    {{ as_of() }} as as_of
from requests
inner join addresses
    on requests.request_key = addresses.request_key
left join customers as by_contact
    on by_contact.identifier_type = 'contact_id' and requests.contact_id = by_contact.identifier_value
left join customers as by_email
    on by_email.identifier_type = 'email' and addresses.email = by_email.identifier_value
