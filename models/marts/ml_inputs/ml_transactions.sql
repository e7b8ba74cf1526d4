{#- The purchases the buy-till-you-die models learn from: one row per completed order of a customer
    in customer_profiles (erased customers are never modelled), revenue in the reporting currency. -#}
select
    orders.customer_key,
    orders.order_id,
    orders.ordered_at,
    cast(orders.total_reporting as double) as revenue
from {{ ref('int_orders_attributed') }} as orders
inner join {{ ref('customer_profiles') }} as profiles
    on orders.customer_key = profiles.customer_key
where orders.is_purchase
