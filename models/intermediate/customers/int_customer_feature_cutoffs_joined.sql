{#- One row per customer and feature cutoff (int_feature_cutoffs_generated) the customer was known
    before: from the first cutoff after they signed up or first ordered, whichever came first. A
    contact whose sign-up date is unreadable counts from its first CRM version, so no customer of
    the profiles goes unscored. The grain, and the customer's CRM contact and cutoff date, of every
    int_customer_features_*_computed model and of marts.customer_features. -#}
with cutoffs as (
    select feature_as_of
    from {{ ref('int_feature_cutoffs_generated') }}
),

customers as (
    select
        customer_key,
        contact_id
    from {{ ref('int_customers_resolved') }}
),

signups as (
    select
        merged.customer_key,
        coalesce(min(versions.signup_at), min(versions.valid_from)) as signup_at
    from {{ ref('int_contact_versions_tracked') }} as versions
    inner join {{ ref('int_contacts_merged') }} as merged
        on versions.contact_id = merged.contact_id
    group by merged.customer_key
),

orders as (
    select
        customer_key,
        ordered_at
    from {{ ref('int_orders_attributed') }}
    where customer_key is not null
),

first_known as (
    select
        customers.customer_key,
        customers.contact_id,
        least(
            coalesce(signups.signup_at, min(orders.ordered_at)), coalesce(min(orders.ordered_at), signups.signup_at)
        ) as first_known_at
    from customers
    left join signups
        on customers.customer_key = signups.customer_key
    left join orders
        on customers.customer_key = orders.customer_key
    group by customers.customer_key, customers.contact_id, signups.signup_at
)

select
    first_known.customer_key,
    cutoffs.feature_as_of,
    cast(cutoffs.feature_as_of as date) as cutoff_date,
    first_known.contact_id,
    first_known.first_known_at
from first_known
inner join cutoffs
    on first_known.first_known_at < cutoffs.feature_as_of
