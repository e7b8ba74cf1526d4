{#- Every sign that a customer bought, before as_of: completed orders (any channel) and web
    purchase events (usable ones). Abandonment logic looks for the first signal after a cart. -#}
select
    customer_key,
    ordered_at as purchased_at,
    'order' as signal_source
from {{ ref('int_orders_attributed') }}
where is_purchase and customer_key is not null
union all
select
    customer_key,
    event_at as purchased_at,
    'web_purchase_event' as signal_source
from {{ ref('int_web_events_attributed') }}
where is_usable and event_type = 'purchase'
