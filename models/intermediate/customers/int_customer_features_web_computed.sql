{#- Web features of each customer at each cutoff (int_customer_feature_cutoffs_joined), from usable
    web activity on days before the cutoff's date: sessions, product views and add-to-carts in the
    30 days before, days since last seen, the time-decayed behaviour score (rounded to 6 decimals,
    so that parallel summation order never changes a value or a ranking between two runs), and
    carts of the 30 days before whose 24 hours had passed by the cutoff without a purchase. -#}
with population as (
    select * from {{ ref('int_customer_feature_cutoffs_joined') }}
),

activity_before_cutoff as (
    select
        population.customer_key,
        population.feature_as_of,
        web.sessions,
        web.product_views,
        web.add_to_carts,
        web.last_event_at,
        web.weighted_actions * {{ decay_weight('web.activity_date', 'population.cutoff_date') }} as decayed_actions,
        web.activity_date >= {{ dbt.dateadd('day', -30, 'population.cutoff_date') }} as is_in_last_30d
    from population
    inner join {{ ref('int_customer_web_activity_daily') }} as web
        on population.customer_key = web.customer_key and population.cutoff_date > web.activity_date
),

web_features as (
    select
        customer_key,
        feature_as_of,
        sum(case when is_in_last_30d then sessions else 0 end) as web_sessions_30d,
        sum(case when is_in_last_30d then product_views else 0 end) as product_views_30d,
        sum(case when is_in_last_30d then add_to_carts else 0 end) as add_to_cart_30d,
        max(last_event_at) as last_web_event_at,
        round(sum(decayed_actions), 6) as behaviour_score
    from activity_before_cutoff
    group by customer_key, feature_as_of
),

cart_features as (
    select
        population.customer_key,
        population.feature_as_of,
        count(*) as cart_abandons_30d
    from population
    inner join {{ ref('int_cart_additions_followed_up') }} as carts
        on
            population.customer_key = carts.customer_key
            and carts.added_at >= {{ dbt.dateadd('day', -30, 'population.feature_as_of') }}
            and {{ dbt.dateadd('hour', 24, 'carts.added_at') }} <= population.feature_as_of
            and (
                carts.next_purchased_at is null
                or carts.next_purchased_at > {{ dbt.dateadd('hour', 24, 'carts.added_at') }}
            )
    group by population.customer_key, population.feature_as_of
)

select
    population.customer_key,
    population.feature_as_of,
    cast(coalesce(web_features.web_sessions_30d, 0) as double) as web_sessions_30d,
    cast(coalesce(web_features.product_views_30d, 0) as double) as product_views_30d,
    cast(coalesce(web_features.add_to_cart_30d, 0) as double) as add_to_cart_30d,
    cast(coalesce(cart_features.cart_abandons_30d, 0) as double) as cart_abandons_30d,
    cast({{ days_between('web_features.last_web_event_at', 'population.feature_as_of') }} as double)
        as days_since_last_seen,
    cast(coalesce(web_features.behaviour_score, 0) as double) as behaviour_score
from population
left join web_features
    on population.customer_key = web_features.customer_key and population.feature_as_of = web_features.feature_as_of
left join cart_features
    on population.customer_key = cart_features.customer_key and population.feature_as_of = cart_features.feature_as_of
