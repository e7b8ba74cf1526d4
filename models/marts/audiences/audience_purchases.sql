{#- Every completed purchase of a known customer, in the reporting currency: the outcomes a holdout
    experiment compares between its arms (activation.experiments.analyze_campaigns). A contracted
    mart, so the analysis never reads an intermediate table. -#}
select
    customer_key,
    order_id,
    ordered_at,
    cast(total_reporting as double) as revenue
from {{ ref('int_orders_attributed') }}
where is_purchase and customer_key is not null
