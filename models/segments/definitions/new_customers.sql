{#- First purchase within the last var new_customer_days. -#}
select customer_key
from {{ ref('customer_profiles') }}
where first_order_at >= {{ dbt.dateadd('day', -var('new_customer_days'), as_of()) }}
