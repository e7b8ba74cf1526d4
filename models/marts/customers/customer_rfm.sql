{#- Recency, frequency and monetary value at as_of, scored 1-5 and named with the classic segments.

    A purchase is an order with a purchase status (completed; seeds/order_statuses.csv) placed in
    the var rfm_lookback_days before as_of. Cancelled, refunded and pending orders are not
    purchases, so revenue is net of refunds. One order is one purchase.
    Scores are quintiles by rank among customers with a purchase, so equal values always get equal
    scores: score = least(5, 1 + floor(5 * (rank - 1) / (buyers - 1))) in integer arithmetic,
    recency ranked so that the most recent buyers score 5. fm_score = round half up of (f + m) / 2; the segment comes from
    seeds/rfm_segment_map.csv on (r_score, fm_score). Customers without a purchase in the window
    are `No Purchases Yet`, with null scores. -#}
with customers as (
    select customer_key
    from {{ ref('int_customers_resolved') }}
),

purchases as (
    select
        orders.customer_key,
        orders.ordered_at,
        orders.total_reporting
    from {{ ref('int_orders_attributed') }} as orders
    inner join customers
        on orders.customer_key = customers.customer_key
    where
        orders.is_purchase
        and orders.ordered_at >= {{ dbt.dateadd('day', -var('rfm_lookback_days'), as_of()) }}
),

summary as (
    select
        customer_key,
        {{ days_between('max(ordered_at)', as_of()) }} as recency_days,
        count(*) as frequency,
        cast(sum(total_reporting) as decimal(18, 2)) as monetary,
        min(ordered_at) as first_purchase_at,
        max(ordered_at) as last_purchase_at
    from purchases
    group by customer_key
),

scored as (
    select
        *,
        {{ quintile_score('recency_days desc') }} as r_score,
        {{ quintile_score('frequency') }} as f_score,
        {{ quintile_score('monetary') }} as m_score
    from summary
),

with_fm as (
    select
        *,
        cast(floor((f_score + m_score) / 2.0 + 0.5) as integer) as fm_score
    from scored
)

select
    customers.customer_key,
    {{ as_of() }} as as_of,
    cast(with_fm.recency_days as bigint) as recency_days,
    cast(coalesce(with_fm.frequency, 0) as bigint) as frequency,
    cast(coalesce(with_fm.monetary, 0) as decimal(18, 2)) as monetary,
    with_fm.first_purchase_at,
    with_fm.last_purchase_at,
    with_fm.r_score,
    with_fm.f_score,
    with_fm.m_score,
    with_fm.fm_score,
    cast(with_fm.r_score as {{ dbt.type_string() }})
    || cast(with_fm.f_score as {{ dbt.type_string() }})
    || cast(with_fm.m_score as {{ dbt.type_string() }})
        as rfm_cell,
    case
        when with_fm.r_score is null then 'No Purchases Yet'
        else coalesce(segment_map.rfm_segment, 'Unclassified')
    end as rfm_segment
from customers
left join with_fm
    on customers.customer_key = with_fm.customer_key
left join {{ ref('rfm_segment_map') }} as segment_map
    on with_fm.r_score = segment_map.r_score and with_fm.fm_score = segment_map.fm_score
