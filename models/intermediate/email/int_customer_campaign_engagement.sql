{#- Per customer and campaign: when it was delivered, first opened by a person, first clicked,
    and whether it led to an unsubscribe, bounce or complaint. Rates over any window count
    campaigns, so repeated opens of one e-mail count once. -#}
select
    customer_key,
    campaign_id,
    min(delivered_at) as delivered_at,
    min(case when event_type = 'open' and not is_machine_open then event_at end) as first_human_open_at,
    min(case when event_type = 'click' then event_at end) as first_click_at,
    sum(case when event_type = 'open' and not is_machine_open then 1 else 0 end) as human_opens,
    sum(case when is_machine_open then 1 else 0 end) as machine_opens,
    sum(case when event_type = 'click' then 1 else 0 end) as clicks,
    min(case when event_type = 'unsubscribe' then event_at end) as unsubscribed_at,
    min(case when event_type = 'bounce' then event_at end) as bounced_at,
    min(case when event_type = 'complaint' then event_at end) as complained_at
from {{ ref('int_email_events_classified') }}
where customer_key is not null and campaign_id is not null
group by customer_key, campaign_id
