{#- The currency each customer sees prices in: that of their latest purchase before as_of (among
    currencies with a rate at as_of), else var reporting_currency; with its US dollars per unit at
    as_of, so that a price converts as price * product currency rate / customer currency rate. -#}
with rates_at_as_of as (
    {{ currency_rates_at_as_of() }}
),

purchases as (
    select
        orders.customer_key,
        orders.currency_code,
        row_number() over (
            partition by orders.customer_key
            order by orders.ordered_at desc, orders.order_id desc
        ) as recency_rank
    from {{ ref('int_orders_attributed') }} as orders
    inner join rates_at_as_of
        on orders.currency_code = rates_at_as_of.currency_code
    where orders.is_purchase and orders.customer_key is not null
),

latest_purchases as (
    select
        customer_key,
        currency_code
    from purchases
    where recency_rank = 1
),

chosen as (
    select
        customers.customer_key,
        coalesce(latest_purchases.currency_code, '{{ var("reporting_currency") }}') as currency_code,
        case
            when latest_purchases.currency_code is not null then 'latest_purchase'
            else 'reporting_currency'
        end as currency_source
    from {{ ref('int_customers_resolved') }} as customers
    left join latest_purchases
        on customers.customer_key = latest_purchases.customer_key
)

select
    chosen.customer_key,
    chosen.currency_code,
    chosen.currency_source,
    rates_at_as_of.usd_per_unit
from chosen
left join rates_at_as_of
    on chosen.currency_code = rates_at_as_of.currency_code
