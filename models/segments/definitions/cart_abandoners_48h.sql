{#- Added to cart in the last var cart_abandonment_lookback_days and bought nothing within 48 hours
    after it; only carts at least 48 hours old are decided. -#}
select distinct customer_key
from {{ ref('int_cart_additions_followed_up') }}
where
    added_at >= {{ dbt.dateadd('day', -var('cart_abandonment_lookback_days'), as_of()) }}
    and hours_observed >= 48
    and (hours_to_next_purchase is null or hours_to_next_purchase > 48)
