{#- What each customer did in the var label_window_days after each cutoff whose window ends by
    as_of: the target the purchase-propensity model learns. Only purchases count (see customer_rfm
    for the definition). -#}
with cutoffs as (
    select feature_as_of
    from {{ ref('int_feature_cutoffs_generated') }}
    where {{ dbt.dateadd('day', var('label_window_days'), 'feature_as_of') }} <= {{ as_of() }}
),

population as (
    select
        features.customer_key,
        features.feature_as_of
    from {{ ref('customer_features') }} as features
    inner join cutoffs
        on features.feature_as_of = cutoffs.feature_as_of
),

future_purchases as (
    select
        population.customer_key,
        population.feature_as_of,
        count(*) as orders_next_window,
        sum(orders.total_reporting) as revenue_next_window
    from population
    inner join {{ ref('int_orders_attributed') }} as orders
        on
            population.customer_key = orders.customer_key
            and orders.is_purchase
            and population.feature_as_of <= orders.ordered_at
            and orders.ordered_at < {{ dbt.dateadd('day', var('label_window_days'), 'population.feature_as_of') }}
    group by population.customer_key, population.feature_as_of
)

select
    population.customer_key,
    population.feature_as_of,
    {{ var('label_window_days') }} as label_window_days,
    coalesce(future_purchases.orders_next_window, 0) > 0 as purchased_next_30d,
    cast(coalesce(future_purchases.orders_next_window, 0) as bigint) as orders_next_30d,
    cast(coalesce(future_purchases.revenue_next_window, 0) as double) as revenue_next_30d
from population
left join future_purchases
    on population.customer_key = future_purchases.customer_key
        and population.feature_as_of = future_purchases.feature_as_of
