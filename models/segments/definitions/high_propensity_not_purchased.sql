{#- Likely to buy soon (purchase propensity in the top var high_propensity_max_decile deciles) but
    no purchase in the last var high_propensity_days_without_purchase days. -#}
select scores.customer_key
from {{ source('ml', 'customer_scores') }} as scores
inner join {{ ref('customer_profiles') }} as profiles
    on scores.customer_key = profiles.customer_key
where
    scores.propensity_decile <= {{ var('high_propensity_max_decile') }}
    and (
        profiles.last_order_at is null
        or profiles.last_order_at < {{ dbt.dateadd('day', -var('high_propensity_days_without_purchase'), as_of()) }}
    )
