{#- Every identifier the pipeline attributes by — contact id, e-mail, web device — with the
    customer it belongs to. Guest buyers (an order e-mail that no contact claims) become customers
    of their own. Ambiguous identifiers map to no one. -#}
with contact_ids as (
    select
        'contact_id' as identifier_type,
        contact_id as identifier_value,
        customer_key,
        'contact' as resolution
    from {{ ref('int_contacts_merged') }}
),

linked_identifiers as (
    select
        resolved.identifier_type,
        resolved.identifier_value,
        merged.customer_key,
        resolved.resolution
    from {{ ref('int_identifiers_resolved') }} as resolved
    left join {{ ref('int_contacts_merged') }} as merged
        on resolved.contact_id = merged.contact_id
),

guest_emails as (
    select distinct
        'email' as identifier_type,
        orders.email as identifier_value,
        {{ customer_key_for_email('orders.email') }} as customer_key,
        'guest' as resolution
    from {{ ref('stg_orders__orders') }} as orders
    left join {{ ref('int_identifiers_resolved') }} as resolved
        on resolved.identifier_type = 'email' and orders.email = resolved.identifier_value
    where
        orders.contact_id is null
        and orders.is_email_valid
        and resolved.identifier_value is null
        and {{ before_as_of('orders.ordered_at') }}
)

select * from contact_ids
union all
select * from linked_identifiers
union all
select * from guest_emails
