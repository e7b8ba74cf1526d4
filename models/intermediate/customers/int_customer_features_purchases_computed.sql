{#- Purchase features of each customer at each cutoff (int_customer_feature_cutoffs_joined), from
    orders as they were known strictly before the cutoff: each order in the version in effect then
    (int_order_versions_tracked), so a refund or cancellation recorded after the cutoff does not
    count at it. Recency, frequency and monetary value, purchases and revenue in the 30, 90 and
    365 days before, the gap between purchases, the shares of discounted and refunded orders, and
    the categories bought from. -#}
with population as (
    select * from {{ ref('int_customer_feature_cutoffs_joined') }}
),

customer_orders as (
    select
        order_id,
        customer_key
    from {{ ref('int_orders_attributed') }}
    where customer_key is not null
),

orders as (
    select
        population.customer_key,
        population.feature_as_of,
        versions.order_id,
        versions.ordered_at,
        versions.is_purchase,
        versions.order_status,
        versions.total_reporting,
        coalesce(versions.discount_reporting, 0) > 0 as has_discount
    from population
    inner join customer_orders
        on population.customer_key = customer_orders.customer_key
    inner join {{ ref('int_order_versions_tracked') }} as versions
        on
            customer_orders.order_id = versions.order_id
            and population.feature_as_of > versions.valid_from
            and population.feature_as_of <= versions.valid_to
),

order_features as (
    select
        population.customer_key,
        population.feature_as_of,
        max(case when orders.is_purchase then orders.ordered_at end) as last_purchase_at,
        min(case when orders.is_purchase then orders.ordered_at end) as first_purchase_at,
        sum(case when orders.is_purchase then 1 else 0 end) as frequency_orders,
        sum(case when orders.is_purchase then orders.total_reporting else 0 end) as monetary_total,
        {% for days in [30, 90, 365] %}
            sum(
                case
                    when
                        orders.is_purchase
                        and orders.ordered_at >= {{ dbt.dateadd('day', -days, 'population.feature_as_of') }}
                        then 1
                    else 0
                end
            ) as orders_{{ days }}d,
        {% endfor %}
        {% for days in [90, 365] %}
            sum(
                case
                    when
                        orders.is_purchase
                        and orders.ordered_at >= {{ dbt.dateadd('day', -days, 'population.feature_as_of') }}
                        then orders.total_reporting
                    else 0
                end
            ) as revenue_{{ days }}d,
        {% endfor %}
        sum(case when orders.is_purchase and orders.has_discount then 1 else 0 end) as discounted_orders,
        sum(case when orders.order_status = 'refunded' then 1 else 0 end) as refunded_orders,
        sum(case when orders.order_status in ('refunded', 'completed') then 1 else 0 end) as settled_orders
    from population
    inner join orders
        on population.customer_key = orders.customer_key and population.feature_as_of = orders.feature_as_of
    group by population.customer_key, population.feature_as_of
),

category_features as (
    select
        population.customer_key,
        population.feature_as_of,
        count(distinct order_lines.category) as distinct_categories_bought
    from population
    inner join orders
        on
            population.customer_key = orders.customer_key
            and population.feature_as_of = orders.feature_as_of
            and orders.is_purchase
    inner join {{ ref('int_order_lines_enriched') }} as order_lines
        on orders.order_id = order_lines.order_id
    group by population.customer_key, population.feature_as_of
)

select
    population.customer_key,
    population.feature_as_of,
    cast({{ days_between('order_features.last_purchase_at', 'population.feature_as_of') }} as double) as recency_days,
    cast(coalesce(order_features.frequency_orders, 0) as double) as frequency_orders,
    cast(coalesce(order_features.monetary_total, 0) as double) as monetary_total,
    cast(order_features.monetary_total as double) / nullif(order_features.frequency_orders, 0) as avg_order_value,
    cast(coalesce(order_features.orders_30d, 0) as double) as orders_30d,
    cast(coalesce(order_features.orders_90d, 0) as double) as orders_90d,
    cast(coalesce(order_features.orders_365d, 0) as double) as orders_365d,
    cast(coalesce(order_features.revenue_90d, 0) as double) as revenue_90d,
    cast(coalesce(order_features.revenue_365d, 0) as double) as revenue_365d,
    cast(
        {{ dbt.datediff('order_features.first_purchase_at', 'order_features.last_purchase_at', 'day') }}
        / nullif(order_features.frequency_orders - 1, 0) as double
    ) as avg_days_between_orders,
    cast(order_features.discounted_orders / nullif(order_features.frequency_orders, 0) as double)
        as discount_order_share,
    cast(order_features.refunded_orders / nullif(order_features.settled_orders, 0) as double) as refund_share,
    cast(coalesce(category_features.distinct_categories_bought, 0) as double) as distinct_categories_bought
from population
left join order_features
    on population.customer_key = order_features.customer_key and population.feature_as_of = order_features.feature_as_of
left join category_features
    on
        population.customer_key = category_features.customer_key
        and population.feature_as_of = category_features.feature_as_of
