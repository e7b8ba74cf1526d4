{#- Viewed at least var browse_abandonment_min_product_views products in the last
    var browse_abandonment_lookback_days without adding anything to the cart or buying. -#}
with recent_activity as (
    select
        customer_key,
        sum(product_views) as product_views,
        sum(add_to_carts) as add_to_carts,
        sum(purchase_events) as purchase_events
    from {{ ref('int_customer_web_activity_daily') }}
    where activity_date >= {{ dbt.dateadd('day', -var('browse_abandonment_lookback_days'), as_of()) }}
    group by customer_key
),

recent_orders as (
    select distinct customer_key
    from {{ ref('int_orders_attributed') }}
    where
        is_purchase
        and ordered_at >= {{ dbt.dateadd('day', -var('browse_abandonment_lookback_days'), as_of()) }}
)

select recent_activity.customer_key
from recent_activity
left join recent_orders
    on recent_activity.customer_key = recent_orders.customer_key
where
    recent_activity.product_views >= {{ var('browse_abandonment_min_product_views') }}
    and recent_activity.add_to_carts = 0
    and recent_activity.purchase_events = 0
    and recent_orders.customer_key is null
