{#- One row per product. The catalog has no version timestamp: the row from the latest landing file
    (files sorted by path) wins, and within a file the later row. -#}
with valid_versions as (
    select *
    from {{ ref('base_catalog__products') }}
    where rejection_rule is null
),

ranked as (
    select
        *,
        count(*) over (partition by product_id) as versions_landed,
        row_number() over (
            partition by product_id
            order by _landing_file desc, _landing_row desc
        ) as version_rank
    from valid_versions
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
from ranked
where version_rank = 1
