{#- One row per order line; a line landed twice (same order and line number) counts once. -#}
with valid_lines as (
    select *
    from {{ ref('base_orders__order_items') }}
    where rejection_rule is null
),

ranked as (
    select
        *,
        row_number() over (
            partition by order_line_key
            order by _landing_file desc, _landing_row desc
        ) as version_rank
    from valid_lines
)

select
    order_line_key,
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    unit_price_reporting,
    line_total_reporting,
    invalid_value_columns,
    _landing_file as landing_file
from ranked
where version_rank = 1
