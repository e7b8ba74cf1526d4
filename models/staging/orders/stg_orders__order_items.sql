{{
    config(
        materialized=landing_materialization(),
        unique_key='order_line_key',
        post_hook="{{ delete_unbacked_keys(ref('base_orders__order_items'), 'order_line_key') }}",
    )
}}

{#- One row per order line; a line landed twice (same order and line number) counts once. -#}
with latest_versions as (
    {{ first_valid_rows(
        ref('base_orders__order_items'),
        key='order_line_key',
        order_by='_landing_file desc, _landing_row desc',
        parse_batch=true
    ) }}
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
    _landing_file as landing_file,
    _valid_rows,
    _key_parsed_at as _parsed_at
from latest_versions
