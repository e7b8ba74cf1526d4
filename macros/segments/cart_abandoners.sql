{#- Customers who added to cart in the last var cart_abandonment_lookback_days and bought nothing
    within `hours` hours after it; only carts at least `hours` hours old are decided. The rule of
    every cart-abandonment segment (cart_abandoners_24h, cart_abandoners_48h), which differ only in
    the window. -#}
{% macro cart_abandoners(hours) -%}
    select distinct customer_key
    from {{ ref('int_cart_additions_followed_up') }}
    where
        added_at >= {{ dbt.dateadd('day', -var('cart_abandonment_lookback_days'), as_of()) }}
        and hours_observed >= {{ hours }}
        and (hours_to_next_purchase is null or hours_to_next_purchase > {{ hours }})
{%- endmacro %}
