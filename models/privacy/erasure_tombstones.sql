{{
    config(
        materialized='incremental',
        full_refresh=false,
        on_schema_change='fail',
        post_hook="{{ install_erasure_match_function(this) }}",
    )
}}

{#- One salted hash per identifier of every person who asked for erasure: the request's e-mail and
    contact id, every contact sharing that e-mail, and everything those contacts left — their
    e-mails in CRM, orders and e-mail events, their web devices, their orders, their customer keys.
    Read from the landing sources themselves, by the columns var landing_identifiers names for each
    table (staging drops these rows, so it cannot say who they were). Append-only and never rebuilt (full_refresh is disabled): once the landing files are
    purged of a person, the tombstones are what keeps them out. A contact or address that arrives
    later and matches a tombstone (hashed on arrival) is tombstoned whole as well. -#}
{%- set request_type = canonical_type(
    'request_type', var('privacy_request_type_spellings'), var('privacy_request_type_patterns')
) %}

with erasure_requests as (
    select
        {{ clean_text('contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email
    from {{ source('privacy', 'requests') }}
    where {{ request_type }} = 'erasure'
),

crm_rows as (
    {{ landed_identifiers('crm', 'contacts') }}
),

order_rows as (
    {{ landed_identifiers('orders', 'orders') }}
),

{# Which contact id goes with which e-mail, in CRM and on orders: how an erasure follows a person
    from their e-mail to their contacts and back. #}
contact_emails as (
    select
        contact_id,
        email
    from crm_rows
    union
    select
        contact_id,
        email
    from order_rows
),

named_emails as (
    select email from erasure_requests
    where email is not null
    {% if is_incremental() %}
        union
        {{ tombstoned_again('email', ['contact_emails'], this) }}
    {% endif %}
),

erased_contacts as (
    select contact_id from erasure_requests
    where contact_id is not null
    union
    select contact_emails.contact_id
    from contact_emails
    inner join named_emails
        on contact_emails.email = named_emails.email
    where contact_emails.contact_id is not null
    {% if is_incremental() %}
        union
        {{ tombstoned_again('contact_id', ['contact_emails'], this) }}
    {% endif %}
),

{# The e-mail events and web events are the largest landing tables: only the rows of erased
    contacts are made distinct. #}
email_event_rows as (
    {{ landed_identifiers('email', 'events', required='contact_id', among='erased_contacts') }}
),

web_devices as (
    {{ landed_identifiers('web', 'events', required='contact_id', among='erased_contacts') }}
),

erased_emails as (
    select email from named_emails
    union
    select contact_emails.email
    from contact_emails
    inner join erased_contacts
        on contact_emails.contact_id = erased_contacts.contact_id
    union
    select email_event_rows.email
    from email_event_rows
    inner join erased_contacts
        on email_event_rows.contact_id = erased_contacts.contact_id
),

erased_identifiers as (
    select
        'email' as identifier_type,
        {{ erasure_hash('email', 'email') }} as identifier_hash
    from erased_emails
    where email is not null
    union
    select
        'contact_id' as identifier_type,
        {{ erasure_hash('contact_id', 'contact_id') }} as identifier_hash
    from erased_contacts
    union
    select
        'anonymous_id' as identifier_type,
        {{ erasure_hash('anonymous_id', 'web_devices.anonymous_id') }} as identifier_hash
    from web_devices
    inner join erased_contacts
        on web_devices.contact_id = erased_contacts.contact_id
    where web_devices.anonymous_id is not null
    union
    select
        'order_id' as identifier_type,
        {{ erasure_hash('order_id', 'order_rows.order_id') }} as identifier_hash
    from order_rows
    left join erased_contacts
        on order_rows.contact_id = erased_contacts.contact_id
    left join erased_emails
        on order_rows.email = erased_emails.email
    where
        order_rows.order_id is not null
        and (erased_contacts.contact_id is not null or erased_emails.email is not null)
    union
    select
        'customer_key' as identifier_type,
        {{ erasure_hash('customer_key', customer_key_for_contact('contact_id')) }} as identifier_hash
    from erased_contacts
    union
    select
        'customer_key' as identifier_type,
        {{ erasure_hash('customer_key', customer_key_for_email('email')) }} as identifier_hash
    from erased_emails
    where email is not null
)

select
    erased_identifiers.identifier_type,
    erased_identifiers.identifier_hash,
    {{ parse_batch_timestamp() }} as recorded_at
from erased_identifiers
{% if is_incremental() %}
    left join {{ this }} as known
        on erased_identifiers.identifier_hash = known.identifier_hash
    where known.identifier_hash is null
{% endif %}
