{{
    config(
        materialized=landing_materialization(),
        unique_key='_landing_file',
        post_hook="{{ delete_unlanded_and_erased_rows('orders', 'order_items') }}",
    )
}}
{#- Every landed order line, parsed, priced in the reporting currency at its order's rate, with the
    first rule it breaks. A line whose order did not land, or was quarantined, is an orphan. An
    incremental run also parses again the files of lines whose order changed since
    (stale_order_line_files). -#}
-- depends_on: {{ source('landing_audit', 'landing_files') }}
with landed as (
    {{ landed_rows('orders', 'order_items', stale_files=stale_order_line_files()) }}
),

parsed as (
    select
        {{ clean_text('order_id') }} as order_id,
        {{ parse_integer('line_number') }} as line_number,
        {{ canonical_product_id('product_id') }} as product_id,
        {{ parse_integer('quantity') }} as quantity,
        {{ clean_text('quantity') }} as quantity_text,
        {{ parse_decimal('unit_price') }} as unit_price,
        {{ clean_text('unit_price') }} as unit_price_text,
        case when {{ given_but_invalid('line_number', parse_integer('line_number')) }} then 'line_number' end
            as invalid_value_columns,
        {{ landing_lineage_columns(parse_batch=true) }}
    from landed
),

order_states as (
    {{ order_line_order_states() }}
),

with_orders as (
    select
        parsed.*,
        order_states.order_id is not null as is_order_landed,
        coalesce(order_states.is_order_valid, false) as is_order_valid,
        order_states.rate_to_reporting
    from parsed
    left join order_states
        on parsed.order_id = order_states.order_id
),

checked as (
    select
        *,
        cast(unit_price * rate_to_reporting as decimal(18, 4)) as unit_price_reporting,
        cast(quantity * unit_price * rate_to_reporting as decimal(18, 2)) as line_total_reporting,
        order_id || '#' || coalesce(cast(line_number as {{ dbt.type_string() }}), landing_row_hash) as order_line_key,
        coalesce(order_id || '#' || cast(line_number as {{ dbt.type_string() }}), landing_row_hash) as row_key,
        case
            when order_id is null then 'missing_order_id'
            when product_id is null then 'missing_product_id'
            when quantity_text is null then 'missing_quantity'
            when quantity is null then 'unparseable_quantity'
            when quantity <= 0 then 'non_positive_quantity'
            when unit_price_text is null then 'missing_unit_price'
            when unit_price is null then 'unparseable_unit_price'
            when unit_price < 0 then 'negative_unit_price'
            when not is_order_landed then 'orphan_line_order_not_landed'
            when not is_order_valid then 'orphan_line_order_quarantined'
        end as rejection_rule
    from with_orders
)

select
    *,
    case rejection_rule
        when 'unparseable_quantity' then quantity_text
        when 'non_positive_quantity' then quantity_text
        when 'unparseable_unit_price' then unit_price_text
        when 'negative_unit_price' then unit_price_text
        when 'orphan_line_order_not_landed' then order_id
        when 'orphan_line_order_quarantined' then order_id
    end as rejection_detail
from checked
