{#- Every observation, before as_of, of an identifier (e-mail, web device) seen together with a
    CRM contact id: the edges of the identity graph. -#}
with crm_emails as (
    select
        'email' as identifier_type,
        email as identifier_value,
        contact_id,
        'crm' as link_source,
        valid_from as observed_at
    from {{ ref('int_contact_versions_tracked') }}
    where is_email_valid
),

order_emails as (
    select
        'email' as identifier_type,
        email as identifier_value,
        contact_id,
        'order' as link_source,
        ordered_at as observed_at
    from {{ ref('stg_orders__orders') }}
    where
        contact_id is not null
        and is_email_valid
        and {{ before_as_of('ordered_at') }}
),

esp_emails as (
    select
        'email' as identifier_type,
        email as identifier_value,
        contact_id,
        'email_event' as link_source,
        event_at as observed_at
    from {{ ref('stg_email__events') }}
    where
        contact_id is not null
        and is_email_valid
        and {{ before_as_of('event_at') }}
),

web_devices as (
    select
        'anonymous_id' as identifier_type,
        anonymous_id as identifier_value,
        contact_id,
        'web_login' as link_source,
        event_at as observed_at
    from {{ ref('stg_web__events') }}
    where
        contact_id is not null
        and anonymous_id is not null
        and {{ before_as_of('event_at') }}
)

select * from crm_emails
union all
select * from order_emails
union all
select * from esp_emails
union all
select * from web_devices
