{#- Each customer's own most frequent hour and weekday of human opens and clicks (UTC), with how
    many engagements support it; ties go to the earlier hour / day. -#}
with engagements as (
    select
        customer_key,
        {{ hour_of_day('event_at') }} as engagement_hour,
        {{ day_of_week('event_at') }} as engagement_weekday
    from {{ ref('int_email_events_classified') }}
    where
        customer_key is not null
        and ((event_type = 'open' and not is_machine_open) or event_type = 'click')
),

hours as (
    select
        customer_key,
        engagement_hour,
        row_number() over (partition by customer_key order by count(*) desc, engagement_hour) as hour_rank
    from engagements
    group by customer_key, engagement_hour
),

weekdays as (
    select
        customer_key,
        engagement_weekday,
        row_number() over (partition by customer_key order by count(*) desc, engagement_weekday) as weekday_rank
    from engagements
    group by customer_key, engagement_weekday
),

totals as (
    select
        customer_key,
        count(*) as engagements
    from engagements
    group by customer_key
)

select
    totals.customer_key,
    totals.engagements,
    cast(hours.engagement_hour as integer) as preferred_send_hour,
    cast(weekdays.engagement_weekday as integer) as preferred_send_weekday_number
from totals
inner join hours
    on totals.customer_key = hours.customer_key and hours.hour_rank = 1
inner join weekdays
    on totals.customer_key = weekdays.customer_key and weekdays.weekday_rank = 1
