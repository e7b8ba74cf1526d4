{#- Added to cart in the last var cart_abandonment_lookback_days and bought nothing within 24 hours
    after it; only carts at least 24 hours old are decided. -#}
{{ cart_abandoners(24) }}
