{#- The direct identifiers of each customer at as_of — e-mail, names, phone, CRM contact id — kept
    apart from the marts so that BI tools and the published snapshot never see them; activation
    reads them to address e-mails. -#}
with customers as (
    select
        customer_key,
        customer_type,
        contact_id,
        email
    from {{ ref('int_customers_resolved') }}
),

current_versions as (
    select
        contact_id,
        first_name,
        last_name,
        phone
    from {{ ref('int_contact_versions_tracked') }}
    where is_current
)

select
    customers.customer_key,
    customers.customer_type,
    customers.contact_id,
    customers.email,
    {{ is_valid_email('customers.email') }} as is_email_valid,
    current_versions.first_name,
    current_versions.last_name,
    current_versions.phone
from customers
left join current_versions
    on customers.contact_id = current_versions.contact_id
