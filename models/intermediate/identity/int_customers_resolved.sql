{#- One row per customer (person): CRM contacts (merged when they share an identifier within the
    guardrail), contacts the shop knows but the CRM export lacks, and guest buyers. -#}
with contact_customers as (
    select
        merged.customer_key,
        merged.canonical_contact_id as contact_id,
        count(*) as merged_contacts
    from {{ ref('int_contacts_merged') }} as merged
    group by merged.customer_key, merged.canonical_contact_id
),

current_crm as (
    select
        contact_id,
        email
    from {{ ref('int_contact_versions_tracked') }}
    where is_current
),

guest_customers as (
    select
        customer_key,
        identifier_value as email
    from {{ ref('int_identifiers_mapped') }}
    where resolution = 'guest'
)

select
    contact_customers.customer_key,
    case when current_crm.contact_id is not null then 'crm_contact' else 'shop_contact' end as customer_type,
    contact_customers.contact_id,
    current_crm.email,
    contact_customers.merged_contacts
from contact_customers
left join current_crm
    on contact_customers.contact_id = current_crm.contact_id
union all
select
    customer_key,
    'guest' as customer_type,
    cast(null as {{ dbt.type_string() }}) as contact_id,
    email,
    0 as merged_contacts
from guest_customers
