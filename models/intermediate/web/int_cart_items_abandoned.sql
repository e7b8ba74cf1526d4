{#- The products each customer's cart still holds at as_of, for the cart-abandonment e-mail: every
    add-to-cart of the last var cart_abandonment_lookback_days (the segments' window) that no
    purchase and no removal of that product followed (int_cart_additions_followed_up decides what
    followed), of a product the catalog still sells. A purchase empties the cart; a removal takes the
    product out, however often it was added. Quantity = additions still in the cart. -#}
with open_additions as (
    select
        customer_key,
        product_id,
        added_at
    from {{ ref('int_cart_additions_followed_up') }}
    where
        added_at >= {{ dbt.dateadd('day', -var('cart_abandonment_lookback_days'), as_of()) }}
        and next_purchased_at is null
        and next_removed_at is null
        and customer_key is not null
        and product_id is not null
),

cart_lines as (
    select
        customer_key,
        product_id,
        count(*) as quantity,
        min(added_at) as first_added_at,
        max(added_at) as last_added_at
    from open_additions
    group by customer_key, product_id
)

select
    cart_lines.customer_key,
    cart_lines.product_id,
    products.product_name,
    products.image_url,
    products.price,
    products.currency_code,
    cast(cart_lines.quantity as integer) as quantity,
    cart_lines.first_added_at,
    cart_lines.last_added_at,
    cast(row_number() over (
        partition by cart_lines.customer_key
        order by cart_lines.last_added_at desc, cart_lines.product_id asc
    ) as integer) as cart_rank
from cart_lines
inner join {{ ref('stg_catalog__products') }} as products
    on cart_lines.product_id = products.product_id
where coalesce(products.is_active, true)
