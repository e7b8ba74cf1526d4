{#- At least var high_value_min_orders purchases and lifetime revenue at or above the
    var high_value_revenue_percentile percentile of buyers. -#}
with buyers as (
    select
        customer_key,
        lifetime_orders,
        lifetime_revenue
    from {{ ref('customer_profiles') }}
    where lifetime_orders > 0
),

threshold as (
    select
        percentile_cont({{ var('high_value_revenue_percentile') }}) within group (order by lifetime_revenue)
            as revenue_threshold
    from buyers
)

select buyers.customer_key
from buyers
cross join threshold
where
    buyers.lifetime_orders >= {{ var('high_value_min_orders') }}
    and buyers.lifetime_revenue >= threshold.revenue_threshold
