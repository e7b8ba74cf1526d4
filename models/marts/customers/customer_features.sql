{#- One row per customer and cutoff (feature_as_of: as_of and every var feature_cutoff_step_days
    before it), with every feature the models use, each computed only from what happened strictly
    before that cutoff (the CRM record: the one in effect at it). The grain is
    int_customer_feature_cutoffs_joined; each family of features is an intermediate model at that
    grain (intermediate/customers/int_customer_features_*_computed). Identity and tracking consent
    are resolved once, at as_of, and applied to history. -#}
with population as (
    select
        customer_key,
        feature_as_of
    from {{ ref('int_customer_feature_cutoffs_joined') }}
),

purchases as (
    select * from {{ ref('int_customer_features_purchases_computed') }}
),

web as (
    select * from {{ ref('int_customer_features_web_computed') }}
),

email as (
    select * from {{ ref('int_customer_features_email_computed') }}
),

attributes as (
    select * from {{ ref('int_customer_features_attributes_computed') }}
),

preferences as (
    select * from {{ ref('int_customer_features_preferences_computed') }}
)

select
    population.customer_key,
    population.feature_as_of,
    attributes.tenure_days,
    purchases.recency_days,
    purchases.frequency_orders,
    purchases.monetary_total,
    purchases.avg_order_value,
    purchases.orders_30d,
    purchases.orders_90d,
    purchases.orders_365d,
    purchases.revenue_90d,
    purchases.revenue_365d,
    purchases.avg_days_between_orders,
    purchases.discount_order_share,
    purchases.refund_share,
    purchases.distinct_categories_bought,
    web.web_sessions_30d,
    web.product_views_30d,
    web.add_to_cart_30d,
    web.cart_abandons_30d,
    web.days_since_last_seen,
    email.email_delivered_90d,
    email.email_open_rate_90d,
    email.email_click_rate_90d,
    email.days_since_last_email_engagement,
    web.behaviour_score,
    attributes.age_years,
    attributes.country,
    attributes.loyalty_tier,
    attributes.income_band,
    preferences.preferred_device,
    preferences.favourite_category
from population
left join purchases
    on population.customer_key = purchases.customer_key and population.feature_as_of = purchases.feature_as_of
left join web
    on population.customer_key = web.customer_key and population.feature_as_of = web.feature_as_of
left join email
    on population.customer_key = email.customer_key and population.feature_as_of = email.feature_as_of
left join attributes
    on population.customer_key = attributes.customer_key and population.feature_as_of = attributes.feature_as_of
left join preferences
    on population.customer_key = preferences.customer_key and population.feature_as_of = preferences.feature_as_of
