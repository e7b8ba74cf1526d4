{#- E-mail features of each customer at each cutoff (int_customer_feature_cutoffs_joined), from
    campaigns delivered before the cutoff: those delivered in the 90 days before, the shares of
    them opened by a person and clicked before the cutoff, and days since the last human open or
    click before it. -#}
with population as (
    select * from {{ ref('int_customer_feature_cutoffs_joined') }}
),

email_features as (
    select
        population.customer_key,
        population.feature_as_of,
        sum(
            case
                when campaigns.delivered_at >= {{ dbt.dateadd('day', -90, 'population.feature_as_of') }} then 1 else 0
            end
        )
            as email_delivered_90d,
        sum(
            case
                when
                    campaigns.delivered_at >= {{ dbt.dateadd('day', -90, 'population.feature_as_of') }}
                    and campaigns.first_human_open_at < population.feature_as_of
                    then 1
                else 0
            end
        ) as email_opened_90d,
        sum(
            case
                when
                    campaigns.delivered_at >= {{ dbt.dateadd('day', -90, 'population.feature_as_of') }}
                    and campaigns.first_click_at < population.feature_as_of
                    then 1
                else 0
            end
        ) as email_clicked_90d,
        max(
            case
                when campaigns.first_click_at < population.feature_as_of then campaigns.first_click_at
                when campaigns.first_human_open_at < population.feature_as_of then campaigns.first_human_open_at
            end
        ) as last_email_engagement_at
    from population
    inner join {{ ref('int_customer_campaign_engagement') }} as campaigns
        on population.customer_key = campaigns.customer_key and population.feature_as_of > campaigns.delivered_at
    group by population.customer_key, population.feature_as_of
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
