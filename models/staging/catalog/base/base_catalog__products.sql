{#- Every landed product row, parsed, with the first rule it breaks. -#}
with landed as (
    {{ landed_rows('catalog', 'products') }}
),

parsed as (
    select
        {{ canonical_product_id('product_id') }} as product_id,
        {{ clean_text('name') }} as product_name,
        lower({{ clean_text('category') }}) as category,
        lower({{ clean_text('subcategory') }}) as subcategory,
        {{ parse_decimal('price') }} as price,
        upper({{ clean_text('currency') }}) as currency_code,
        {{ clean_text('image_url') }} as image_url,
        coalesce({{ parse_boolean('active') }}, true) as is_active,
        nullif(concat_ws(
            ',',
            case when {{ given_but_invalid('price', parse_decimal('price')) }} then 'price' end,
            case when {{ given_but_invalid('active', parse_boolean('active')) }} then 'active' end
        ), '') as invalid_value_columns,
        {{ clean_text('price') }} as price_text,
        {{ landing_lineage_columns() }}
    from landed
),

checked as (
    select
        *,
        coalesce(product_id, landing_row_hash) as row_key,
        case
            when product_id is null then 'missing_product_id'
            when price < 0 then 'negative_price'
        end as rejection_rule
    from parsed
)

select
    *,
    case rejection_rule when 'negative_price' then price_text end as rejection_detail
from checked
