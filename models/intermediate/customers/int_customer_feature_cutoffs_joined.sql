{#- One row per customer and feature cutoff (int_feature_cutoffs_generated) the customer was known
    before, from what was known at that cutoff: the earlier of the sign-up date that the CRM
    versions written before it state and the first order known before it (any status). A contact
    whose sign-up date is unreadable counts from its first CRM version, so no customer of the
    profiles goes unscored. A CRM record written later does not make a customer known earlier. The
    grain, and the customer's CRM contact and cutoff date, of every
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

signups_known as (
    select
        merged.customer_key,
        cutoffs.feature_as_of,
        coalesce(min(versions.signup_at), min(versions.valid_from)) as signup_at
    from cutoffs
    inner join {{ ref('int_contact_versions_tracked') }} as versions
        on cutoffs.feature_as_of > versions.valid_from
    inner join {{ ref('int_contacts_merged') }} as merged
        on versions.contact_id = merged.contact_id
    group by merged.customer_key, cutoffs.feature_as_of
),

first_orders_known as (
    select
        orders.customer_key,
        cutoffs.feature_as_of,
        min(versions.ordered_at) as first_ordered_at
    from cutoffs
    inner join {{ ref('int_order_versions_tracked') }} as versions
        on cutoffs.feature_as_of > versions.valid_from
    inner join {{ ref('int_orders_attributed') }} as orders
        on versions.order_id = orders.order_id
    where orders.customer_key is not null
    group by orders.customer_key, cutoffs.feature_as_of
),

first_known as (
    select
        customers.customer_key,
        customers.contact_id,
        cutoffs.feature_as_of,
        least(
            coalesce(signups_known.signup_at, first_orders_known.first_ordered_at),
            coalesce(first_orders_known.first_ordered_at, signups_known.signup_at)
        ) as first_known_at
    from customers
    cross join cutoffs
    left join signups_known
        on customers.customer_key = signups_known.customer_key and cutoffs.feature_as_of = signups_known.feature_as_of
    left join first_orders_known
        on
            customers.customer_key = first_orders_known.customer_key
            and cutoffs.feature_as_of = first_orders_known.feature_as_of
)

select
    customer_key,
    feature_as_of,
    cast(feature_as_of as date) as cutoff_date,
    contact_id,
    first_known_at
from first_known
where first_known_at < feature_as_of
