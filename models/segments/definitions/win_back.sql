{#- Lapsed buyers worth a win-back offer: last purchase between var win_back_min_days_since_purchase
    and var win_back_max_days_since_purchase days ago. -#}
select customer_key
from {{ ref('customer_profiles') }}
where
    last_order_at < {{ dbt.dateadd('day', -var('win_back_min_days_since_purchase'), as_of()) }}
    and last_order_at >= {{ dbt.dateadd('day', -var('win_back_max_days_since_purchase'), as_of()) }}
