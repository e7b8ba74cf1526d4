{#- Orders whose header subtotal differs from the sum of their staged lines by more than
    var order_amount_tolerance (in the order's currency): lines missing from the export, lines
    collapsed as exact repeats while the header counted them, or a header computed differently.
    Revenue everywhere uses the header total (what was paid); this lists where the lines disagree. -#}
with line_totals as (
    select
        order_id,
        count(*) as lines_staged,
        sum(quantity * unit_price) as lines_subtotal
    from {{ ref('stg_orders__order_items') }}
    group by order_id
)

select
    orders.order_id,
    orders.currency_code,
    orders.subtotal,
    line_totals.lines_subtotal,
    orders.subtotal - line_totals.lines_subtotal as difference,
    line_totals.lines_staged,
    orders.ordered_at,
    {{ as_of() }} as as_of
from {{ ref('stg_orders__orders') }} as orders
inner join line_totals
    on orders.order_id = line_totals.order_id
where abs(orders.subtotal - line_totals.lines_subtotal) > {{ var('order_amount_tolerance') }}
