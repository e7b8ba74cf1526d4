{#- E-mail engagement over the var engagement_window_days before as_of, counted per campaign:
    open rate = campaigns opened by a person / delivered (privacy-proxy opens excluded),
    click rate = campaigns clicked / delivered. The tier is the first row of
    seeds/engagement_tiers.csv whose thresholds the customer meets (Highly: opens > 80 % and clicks
    > 50 % with a purchase in var engagement_recent_purchase_days; Moderately: opens >= 50 % and
    clicks >= 20 %; else Low, which includes no recent activity), with its recommended sends. -#}
with customers as (
    select customer_key
    from {{ ref('int_customers_resolved') }}
),

campaigns as (
    select *
    from {{ ref('int_customer_campaign_engagement') }}
),

windowed as (
    select
        customer_key,
        count(*) as emails_delivered,
        sum(case when first_human_open_at is not null then 1 else 0 end) as emails_opened,
        sum(case when first_click_at is not null then 1 else 0 end) as emails_clicked,
        sum(machine_opens) as machine_opens
    from campaigns
    where delivered_at >= {{ dbt.dateadd('day', -var('engagement_window_days'), as_of()) }}
    group by customer_key
),

lifetime as (
    select
        customer_key,
        max(first_human_open_at) as last_open_at,
        max(first_click_at) as last_click_at
    from campaigns
    group by customer_key
),

recent_purchases as (
    select distinct customer_key
    from {{ ref('int_orders_attributed') }}
    where
        is_purchase
        and ordered_at >= {{ dbt.dateadd('day', -var('engagement_recent_purchase_days'), as_of()) }}
),

rates as (
    select
        customers.customer_key,
        coalesce(windowed.emails_delivered, 0) as emails_delivered,
        coalesce(windowed.emails_opened, 0) as emails_opened,
        coalesce(windowed.emails_clicked, 0) as emails_clicked,
        coalesce(windowed.machine_opens, 0) as machine_opens,
        coalesce(1.0 * windowed.emails_opened / nullif(windowed.emails_delivered, 0), 0) as open_rate,
        coalesce(1.0 * windowed.emails_clicked / nullif(windowed.emails_delivered, 0), 0) as click_rate,
        lifetime.last_open_at,
        lifetime.last_click_at,
        greatest(
            coalesce(lifetime.last_open_at, lifetime.last_click_at),
            coalesce(lifetime.last_click_at, lifetime.last_open_at)
        )
            as last_engagement_at,
        recent_purchases.customer_key is not null as has_recent_purchase
    from customers
    left join windowed
        on customers.customer_key = windowed.customer_key
    left join lifetime
        on customers.customer_key = lifetime.customer_key
    left join recent_purchases
        on customers.customer_key = recent_purchases.customer_key
),

tier_matches as (
    select
        rates.customer_key,
        tiers.engagement_tier,
        tiers.recommended_sends_per_week,
        row_number() over (partition by rates.customer_key order by tiers.tier_rank) as match_rank
    from rates
    inner join {{ ref('engagement_tiers') }} as tiers
        on
            (
                (tiers.open_rate_strictly_above and rates.open_rate > tiers.min_open_rate)
                or (not tiers.open_rate_strictly_above and rates.open_rate >= tiers.min_open_rate)
            )
            and (
                (tiers.click_rate_strictly_above and rates.click_rate > tiers.min_click_rate)
                or (not tiers.click_rate_strictly_above and rates.click_rate >= tiers.min_click_rate)
            )
            and (rates.has_recent_purchase or not tiers.requires_recent_purchase)
)

select
    rates.customer_key,
    {{ as_of() }} as as_of,
    {{ var('engagement_window_days') }} as window_days,
    cast(rates.emails_delivered as bigint) as emails_delivered,
    cast(rates.emails_opened as bigint) as emails_opened,
    cast(rates.emails_clicked as bigint) as emails_clicked,
    cast(rates.machine_opens as bigint) as machine_opens,
    cast(rates.open_rate as double) as open_rate,
    cast(rates.click_rate as double) as click_rate,
    rates.last_open_at,
    rates.last_click_at,
    rates.last_engagement_at,
    rates.has_recent_purchase,
    tier_matches.engagement_tier,
    cast(tier_matches.recommended_sends_per_week as double) as recommended_sends_per_week
from rates
inner join tier_matches
    on rates.customer_key = tier_matches.customer_key and tier_matches.match_rank = 1
