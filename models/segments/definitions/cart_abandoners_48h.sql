{#- Added to cart in the last var cart_abandonment_lookback_days and bought nothing within 48 hours
    after it; only carts at least 48 hours old are decided. -#}
{{ cart_abandoners(48) }}
