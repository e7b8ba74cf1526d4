{#- Per customer, day and category: weighted interest from usable web events (weights from
    seeds/behaviour_event_weights.csv) and purchased order lines (weighted as a purchase). -#}
with web_interest as (
    select
        events.customer_key,
        cast(events.event_at as date) as activity_date,
        events.category,
        weights.weight
    from {{ ref('int_web_events_attributed') }} as events
    inner join {{ ref('behaviour_event_weights') }} as weights
        on events.event_type = weights.event_type
    where events.is_usable and events.category is not null
),

purchase_interest as (
    select
        order_lines.customer_key,
        cast(order_lines.ordered_at as date) as activity_date,
        order_lines.category,
        weights.weight
    from {{ ref('int_order_lines_enriched') }} as order_lines
    inner join {{ ref('behaviour_event_weights') }} as weights
        on weights.event_type = 'purchase'
    where order_lines.is_purchase and order_lines.customer_key is not null and order_lines.category is not null
),

interest as (
    select * from web_interest
    union all
    select * from purchase_interest
)

select
    customer_key,
    activity_date,
    category,
    sum(weight) as weighted_interest
from interest
group by customer_key, activity_date, category
