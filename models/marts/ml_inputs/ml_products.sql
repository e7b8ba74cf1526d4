{#- The catalog as the recommender sees it: what may be recommended (active products). -#}
select
    product_id,
    product_name,
    category,
    is_active as active
from {{ ref('stg_catalog__products') }}
