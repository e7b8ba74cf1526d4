{#- What each customer did with each product, for item-to-item recommendations: purchased order
    lines, and usable (human, consented) product views and add-to-carts. -#}
with purchases as (
    select
        order_lines.customer_key,
        order_lines.product_id,
        'purchase' as interaction,
        order_lines.ordered_at as occurred_at
    from {{ ref('int_order_lines_enriched') }} as order_lines
    where order_lines.is_purchase
),

browsing as (
    select
        customer_key,
        product_id,
        case event_type when 'add_to_cart' then 'cart' else 'view' end as interaction,
        event_at as occurred_at
    from {{ ref('int_web_events_attributed') }}
    where
        is_usable
        and product_id is not null
        and event_type in ('product_view', 'add_to_cart')
),

interactions as (
    select * from purchases
    union all
    select * from browsing
)

select
    interactions.customer_key,
    interactions.product_id,
    interactions.interaction,
    interactions.occurred_at
from interactions
inner join {{ ref('customer_profiles') }} as profiles
    on interactions.customer_key = profiles.customer_key
