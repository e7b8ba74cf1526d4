{#- One row per product. The catalog has no version timestamp: the row from the latest landing file
    (files sorted by path) wins, and within a file the later row. -#}
with latest_versions as (
    {{ first_valid_rows(
        ref('base_catalog__products'),
        key='product_id',
        order_by='_landing_file desc, _landing_row desc',
        count_versions=true
    ) }}
)

select
    product_id,
    product_name,
    category,
    subcategory,
    price,
    currency_code,
    image_url,
    is_active,
    versions_landed,
    invalid_value_columns,
    _landing_file as landing_file
from latest_versions
