{#- Valuable customers the models think are slipping away: predicted 365-day CLV at or above the
    var high_clv_percentile percentile and churn risk of var churn_risk_min or more. -#}
with scores as (
    select *
    from {{ source('ml', 'customer_scores') }}
),

threshold as (
    select
        percentile_cont({{ var('high_clv_percentile') }}) within group (order by predicted_clv_365d)
            as clv_threshold
    from scores
)

select scores.customer_key
from scores
cross join threshold
where
    scores.predicted_clv_365d >= threshold.clv_threshold
    and scores.churn_risk >= {{ var('churn_risk_min') }}
