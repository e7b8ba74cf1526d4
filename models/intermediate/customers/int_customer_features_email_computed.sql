{#- E-mail features of each customer at each cutoff (int_customer_feature_cutoffs_joined), from
    campaigns delivered before the cutoff: those delivered in the 90 days before, the shares of
    them opened by a person and clicked before the cutoff, and days since the last human open or
    click before it. -#}
with population as (
    select * from {{ ref('int_customer_feature_cutoffs_joined') }}
),

delivered_campaigns as (
    select
        population.customer_key,
        population.feature_as_of,
        campaigns.first_human_open_at,
        campaigns.first_click_at,
        campaigns.delivered_at >= {{ dbt.dateadd('day', -90, 'population.feature_as_of') }} as is_delivered_90d,
        campaigns.first_human_open_at < population.feature_as_of as is_opened_by_cutoff,
        campaigns.first_click_at < population.feature_as_of as is_clicked_by_cutoff
    from population
    inner join {{ ref('int_customer_campaign_engagement') }} as campaigns
        on population.customer_key = campaigns.customer_key and population.feature_as_of > campaigns.delivered_at
),

email_features as (
    select
        customer_key,
        feature_as_of,
        sum(case when is_delivered_90d then 1 else 0 end) as email_delivered_90d,
        sum(case when is_delivered_90d and is_opened_by_cutoff then 1 else 0 end) as email_opened_90d,
        sum(case when is_delivered_90d and is_clicked_by_cutoff then 1 else 0 end) as email_clicked_90d,
        max(
            case
                when is_clicked_by_cutoff then first_click_at
                when is_opened_by_cutoff then first_human_open_at
            end
        ) as last_email_engagement_at
    from delivered_campaigns
    group by customer_key, feature_as_of
)

select
    population.customer_key,
    population.feature_as_of,
    cast(coalesce(email_features.email_delivered_90d, 0) as double) as email_delivered_90d,
    cast(email_features.email_opened_90d / nullif(email_features.email_delivered_90d, 0) as double)
        as email_open_rate_90d,
    cast(email_features.email_clicked_90d / nullif(email_features.email_delivered_90d, 0) as double)
        as email_click_rate_90d,
    cast(
        {{ days_between('email_features.last_email_engagement_at', 'population.feature_as_of') }} as double
    ) as days_since_last_email_engagement
from population
left join email_features
    on population.customer_key = email_features.customer_key and population.feature_as_of = email_features.feature_as_of
