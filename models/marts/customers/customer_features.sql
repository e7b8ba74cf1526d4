{#- One row per customer and cutoff (feature_as_of: as_of and every var feature_cutoff_step_days
    before it), with every feature the models use, computed only from what happened strictly
    before that cutoff: orders before it, web and e-mail activity on days before its date, the CRM
    record in effect at it (for a customer known before the first CRM version we hold, that first
    version: slowly changing attributes such as country would otherwise be missing only at old
    cutoffs, and the model would learn a difference that scoring never sees). Customers appear from
    the first cutoff after they signed up or first ordered; a contact whose sign-up date is
    unreadable counts from its first CRM version, so no customer of the profiles goes unscored.
    Decayed scores are rounded to 6 decimals so that parallel summation order can never change a
    value or a ranking between two runs. Identity and tracking consent are resolved once, at as_of,
    and applied to history. -#}
with cutoffs as (
    select * from {{ ref('int_feature_cutoffs_generated') }}
),

customers as (
    select
        customer_key,
        contact_id
    from {{ ref('int_customers_resolved') }}
),

signups as (
    select
        merged.customer_key,
        coalesce(min(versions.signup_at), min(versions.valid_from)) as signup_at
    from {{ ref('int_contact_versions_tracked') }} as versions
    inner join {{ ref('int_contacts_merged') }} as merged
        on versions.contact_id = merged.contact_id
    group by merged.customer_key
),

orders as (
    select *
    from {{ ref('int_orders_attributed') }}
    where customer_key is not null
),

first_known as (
    select
        customers.customer_key,
        customers.contact_id,
        least(
            coalesce(signups.signup_at, min(orders.ordered_at)), coalesce(min(orders.ordered_at), signups.signup_at)
        ) as first_known_at
    from customers
    left join signups
        on customers.customer_key = signups.customer_key
    left join orders
        on customers.customer_key = orders.customer_key
    group by customers.customer_key, customers.contact_id, signups.signup_at
),

population as (
    select
        first_known.customer_key,
        first_known.contact_id,
        first_known.first_known_at,
        cutoffs.feature_as_of,
        cast(cutoffs.feature_as_of as date) as cutoff_date
    from first_known
    inner join cutoffs
        on first_known.first_known_at < cutoffs.feature_as_of
),

order_features as (
    select
        population.customer_key,
        population.feature_as_of,
        max(case when orders.is_purchase then orders.ordered_at end) as last_purchase_at,
        min(case when orders.is_purchase then orders.ordered_at end) as first_purchase_at,
        sum(case when orders.is_purchase then 1 else 0 end) as frequency_orders,
        sum(case when orders.is_purchase then orders.total_reporting else 0 end) as monetary_total,
        {% for days in [30, 90, 365] %}
            sum(
                case
                    when
                        orders.is_purchase
                        and orders.ordered_at >= {{ dbt.dateadd('day', -days, 'population.feature_as_of') }}
                        then 1
                    else 0
                end
            ) as orders_{{ days }}d,
        {% endfor %}
        {% for days in [90, 365] %}
            sum(
                case
                    when
                        orders.is_purchase
                        and orders.ordered_at >= {{ dbt.dateadd('day', -days, 'population.feature_as_of') }}
                        then orders.total_reporting
                    else 0
                end
            ) as revenue_{{ days }}d,
        {% endfor %}
        sum(case when orders.is_purchase and orders.has_discount then 1 else 0 end) as discounted_orders,
        sum(case when orders.order_status = 'refunded' then 1 else 0 end) as refunded_orders,
        sum(case when orders.order_status in ('refunded', 'completed') then 1 else 0 end) as settled_orders
    from population
    inner join orders
        on population.customer_key = orders.customer_key and population.feature_as_of > orders.ordered_at
    group by population.customer_key, population.feature_as_of
),

category_features as (
    select
        population.customer_key,
        population.feature_as_of,
        count(distinct order_lines.category) as distinct_categories_bought
    from population
    inner join {{ ref('int_order_lines_enriched') }} as order_lines
        on
            population.customer_key = order_lines.customer_key
            and population.feature_as_of > order_lines.ordered_at
            and order_lines.is_purchase
    group by population.customer_key, population.feature_as_of
),

web_features as (
    select
        population.customer_key,
        population.feature_as_of,
        sum(
            case
                when web.activity_date >= {{ dbt.dateadd('day', -30, 'population.cutoff_date') }} then web.sessions else
                    0
            end
        )
            as web_sessions_30d,
        sum(
            case
                when
                    web.activity_date >= {{ dbt.dateadd('day', -30, 'population.cutoff_date') }}
                    then web.product_views else
                    0
            end
        )
            as product_views_30d,
        sum(
            case
                when
                    web.activity_date >= {{ dbt.dateadd('day', -30, 'population.cutoff_date') }}
                    then web.add_to_carts else
                    0
            end
        )
            as add_to_cart_30d,
        max(web.last_event_at) as last_web_event_at,
        round(sum(web.weighted_actions * {{ decay_weight('web.activity_date', 'population.cutoff_date') }}), 6)
            as behaviour_score
    from population
    inner join {{ ref('int_customer_web_activity_daily') }} as web
        on population.customer_key = web.customer_key and population.cutoff_date > web.activity_date
    group by population.customer_key, population.feature_as_of
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
),

device_ranks as (
    select
        population.customer_key,
        population.feature_as_of,
        devices.device_type,
        row_number() over (
            partition by population.customer_key, population.feature_as_of
            order by sum(devices.events) desc, devices.device_type
        ) as device_rank
    from population
    inner join {{ ref('int_customer_devices_daily') }} as devices
        on population.customer_key = devices.customer_key and population.cutoff_date > devices.activity_date
    group by population.customer_key, population.feature_as_of, devices.device_type
),

category_ranks as (
    select
        population.customer_key,
        population.feature_as_of,
        interest.category,
        row_number() over (
            partition by population.customer_key, population.feature_as_of
            order by
                round(
                    sum(
                        interest.weighted_interest
                        * {{ decay_weight('interest.activity_date', 'population.cutoff_date') }}
                    ),
                    6
                ) desc,
                interest.category
        ) as category_rank
    from population
    inner join {{ ref('int_customer_category_interest_daily') }} as interest
        on population.customer_key = interest.customer_key and population.cutoff_date > interest.activity_date
    group by population.customer_key, population.feature_as_of, interest.category
),

attributes_ranked as (
    select
        population.customer_key,
        population.feature_as_of,
        versions.country_code,
        versions.loyalty_tier,
        versions.income_band,
        versions.birth_date,
        row_number() over (
            partition by population.customer_key, population.feature_as_of
            order by
                case when versions.valid_from <= population.feature_as_of then 0 else 1 end,
                case when versions.valid_from <= population.feature_as_of then versions.valid_from end desc,
                versions.valid_from
        ) as version_rank
    from population
    inner join {{ ref('int_contact_versions_tracked') }} as versions
        on population.contact_id = versions.contact_id
),

attributes as (
    select * from attributes_ranked
    where version_rank = 1
)

select
    population.customer_key,
    population.feature_as_of,
    cast({{ days_between('population.first_known_at', 'population.feature_as_of') }} as double) as tenure_days,
    cast({{ days_between('order_features.last_purchase_at', 'population.feature_as_of') }} as double) as recency_days,
    cast(coalesce(order_features.frequency_orders, 0) as double) as frequency_orders,
    cast(coalesce(order_features.monetary_total, 0) as double) as monetary_total,
    cast(order_features.monetary_total / nullif(order_features.frequency_orders, 0) as double) as avg_order_value,
    cast(coalesce(order_features.orders_30d, 0) as double) as orders_30d,
    cast(coalesce(order_features.orders_90d, 0) as double) as orders_90d,
    cast(coalesce(order_features.orders_365d, 0) as double) as orders_365d,
    cast(coalesce(order_features.revenue_90d, 0) as double) as revenue_90d,
    cast(coalesce(order_features.revenue_365d, 0) as double) as revenue_365d,
    cast(
        {{ dbt.datediff('order_features.first_purchase_at', 'order_features.last_purchase_at', 'day') }}
        / nullif(order_features.frequency_orders - 1, 0) as double
    ) as avg_days_between_orders,
    cast(order_features.discounted_orders / nullif(order_features.frequency_orders, 0) as double)
        as discount_order_share,
    cast(order_features.refunded_orders / nullif(order_features.settled_orders, 0) as double) as refund_share,
    cast(coalesce(category_features.distinct_categories_bought, 0) as double) as distinct_categories_bought,
    cast(coalesce(web_features.web_sessions_30d, 0) as double) as web_sessions_30d,
    cast(coalesce(web_features.product_views_30d, 0) as double) as product_views_30d,
    cast(coalesce(web_features.add_to_cart_30d, 0) as double) as add_to_cart_30d,
    cast(coalesce(cart_features.cart_abandons_30d, 0) as double) as cart_abandons_30d,
    cast({{ days_between('web_features.last_web_event_at', 'population.feature_as_of') }} as double)
        as days_since_last_seen,
    cast(coalesce(email_features.email_delivered_90d, 0) as double) as email_delivered_90d,
    cast(email_features.email_opened_90d / nullif(email_features.email_delivered_90d, 0) as double)
        as email_open_rate_90d,
    cast(email_features.email_clicked_90d / nullif(email_features.email_delivered_90d, 0) as double)
        as email_click_rate_90d,
    cast(
        {{ days_between('email_features.last_email_engagement_at', 'population.feature_as_of') }} as double
    ) as days_since_last_email_engagement,
    cast(coalesce(web_features.behaviour_score, 0) as double) as behaviour_score,
    cast({{ age_in_years('attributes.birth_date', 'population.cutoff_date') }} as double)
        as age_years,
    attributes.country_code as country,
    attributes.loyalty_tier,
    attributes.income_band,
    device_ranks.device_type as preferred_device,
    category_ranks.category as favourite_category
from population
left join order_features
    on population.customer_key = order_features.customer_key and population.feature_as_of = order_features.feature_as_of
left join category_features
    on
        population.customer_key = category_features.customer_key
        and population.feature_as_of = category_features.feature_as_of
left join web_features
    on population.customer_key = web_features.customer_key and population.feature_as_of = web_features.feature_as_of
left join cart_features
    on population.customer_key = cart_features.customer_key and population.feature_as_of = cart_features.feature_as_of
left join email_features
    on population.customer_key = email_features.customer_key and population.feature_as_of = email_features.feature_as_of
left join device_ranks
    on
        population.customer_key = device_ranks.customer_key
        and population.feature_as_of = device_ranks.feature_as_of
        and device_ranks.device_rank = 1
left join category_ranks
    on
        population.customer_key = category_ranks.customer_key
        and population.feature_as_of = category_ranks.feature_as_of
        and category_ranks.category_rank = 1
left join attributes
    on population.customer_key = attributes.customer_key and population.feature_as_of = attributes.feature_as_of
