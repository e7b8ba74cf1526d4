{#- Per campaign (and the segment it targeted): delivered, unique human opens, unique clicks,
    unsubscribes, bounces, complaints, and the purchases it drove. A purchase is credited to the
    last campaign its customer clicked within var attribution_window_days before ordering
    (last click), so no order is counted for two campaigns. -#}
with campaigns as (
    select *
    from {{ ref('stg_email__campaigns') }}
    where sent_at is null or {{ before_as_of('sent_at') }}
),

events as (
    select * from {{ ref('int_email_events_classified') }}
),

engagement as (
    select
        campaign_id,
        count(distinct case when event_type in ('delivered', 'sent') then recipient_key end) as delivered,
        count(distinct case when event_type = 'open' and not is_machine_open then recipient_key end) as unique_opens,
        count(distinct case when is_machine_open then recipient_key end) as machine_openers,
        count(distinct case when event_type = 'click' then recipient_key end) as unique_clicks,
        count(distinct case when event_type = 'unsubscribe' then recipient_key end) as unsubscribes,
        count(distinct case when event_type = 'bounce' then recipient_key end) as bounces,
        count(distinct case when event_type = 'complaint' then recipient_key end) as complaints
    from events
    group by campaign_id
),

clicks as (
    select
        campaign_id,
        customer_key,
        event_at as clicked_at
    from events
    where event_type = 'click' and customer_key is not null
),

purchases as (
    select
        order_id,
        customer_key,
        ordered_at,
        total_reporting
    from {{ ref('int_orders_attributed') }}
    where is_purchase and customer_key is not null
),

credited as (
    select
        purchases.order_id,
        purchases.total_reporting,
        clicks.campaign_id,
        row_number() over (
            partition by purchases.order_id order by clicks.clicked_at desc, clicks.campaign_id asc
        ) as click_rank
    from purchases
    inner join clicks
        on
            purchases.customer_key = clicks.customer_key
            and purchases.ordered_at >= clicks.clicked_at
            and purchases.ordered_at
            <= {{ dbt.dateadd('day', var('attribution_window_days'), 'clicks.clicked_at') }}
),

conversions as (
    select
        campaign_id,
        count(*) as conversions,
        sum(total_reporting) as attributed_revenue
    from credited
    where click_rank = 1
    group by campaign_id
)

select
    campaigns.campaign_id,
    campaigns.campaign_name,
    campaigns.subject,
    campaigns.sent_at,
    coalesce(campaigns.segment_name, 'unknown') as segment_name,
    coalesce(engagement.delivered, 0) as delivered,
    coalesce(engagement.unique_opens, 0) as unique_opens,
    coalesce(engagement.machine_openers, 0) as machine_openers,
    coalesce(engagement.unique_clicks, 0) as unique_clicks,
    coalesce(engagement.unsubscribes, 0) as unsubscribes,
    coalesce(engagement.bounces, 0) as bounces,
    coalesce(engagement.complaints, 0) as complaints,
    coalesce(conversions.conversions, 0) as conversions,
    cast(coalesce(conversions.attributed_revenue, 0) as decimal(18, 2)) as attributed_revenue,
    cast(engagement.unique_opens / nullif(engagement.delivered, 0) as double) as open_rate,
    cast(engagement.unique_clicks / nullif(engagement.delivered, 0) as double) as click_rate,
    cast(conversions.conversions / nullif(engagement.delivered, 0) as double) as conversion_rate,
    {{ var('attribution_window_days') }} as attribution_window_days,
    {{ as_of() }} as as_of
from campaigns
left join engagement
    on campaigns.campaign_id = engagement.campaign_id
left join conversions
    on campaigns.campaign_id = conversions.campaign_id
