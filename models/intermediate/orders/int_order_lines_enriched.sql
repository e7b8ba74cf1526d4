{#- Order lines of orders placed before as_of, with the customer, the order's status and the
    product's category (lines of products missing from the catalog keep a null category). -#}
select
    order_lines.order_line_key,
    order_lines.order_id,
    orders.customer_key,
    orders.ordered_at,
    orders.is_purchase,
    order_lines.product_id,
    products.category,
    products.subcategory,
    order_lines.quantity,
    order_lines.unit_price_reporting,
    order_lines.line_total_reporting
from {{ ref('stg_orders__order_items') }} as order_lines
inner join {{ ref('int_orders_attributed') }} as orders
    on order_lines.order_id = orders.order_id
left join {{ ref('stg_catalog__products') }} as products
    on order_lines.product_id = products.product_id
