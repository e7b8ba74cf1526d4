{#- Every segment member for every destination list it is meant for, with its merge fields, holdout
    arm (int_campaign_member_arms, by macros/run/holdout.sql: the one place a holdout or a content
    test's arm is decided; an arm may set the send hour) and — when it must not be
    sent this run — the reason: no consent (consent_status, read from int_customer_consent_resolved
    itself so that a run that rebuilds consent but not the profiles still decides on today's), a higher-
    priority segment of the same campaign group, or the frequency cap (already sent
    var frequency_cap_emails, or the engagement tier's recommended weekly sends if fewer, in the last
    var frequency_cap_days days). Prices (recommendations, cart items) are in the customer's
    currency (int_customer_currencies_chosen), converted at the rates in effect at as_of. An address on the suppression list is excluded even when its
    customer is contactable (another customer sharing it is not). audience_members keeps the rows
    without a reason. No direct identifier here: restricted.audience_export adds the address and the
    names for the sync engine. -#}
{%- set segments = segment_nodes() %}

with segment_destinations as (
    {% for segment in segments %}
        {% for destination in segment.config.meta.segment.get('destinations', var('audience_destinations')) %}
            select
                {{ sql_text(segment.name) }} as segment_name,
                {{ sql_text(destination) }} as destination
            {% if not loop.last %}union all{% endif %}
        {% endfor %}
        {% if not loop.last %}union all{% endif %}
    {% else %}
        select
            cast(null as {{ dbt.type_string() }}) as segment_name,
            cast(null as {{ dbt.type_string() }}) as destination
        where false
    {% endfor %}
),

members as (
    select
        membership.segment_name,
        membership.customer_key,
        catalog.priority,
        catalog.target_list,
        catalog.campaign_group,
        catalog.offer,
        row_number() over (
            partition by membership.customer_key, catalog.campaign_group
            order by catalog.priority, membership.segment_name
        ) as rank_in_campaign_group
    from {{ ref('segment_membership') }} as membership
    inner join {{ ref('segments') }} as catalog
        on membership.segment_name = catalog.segment_name
),

recent_sends as (
    select
        customer_key,
        count(*) as emails_sent
    from {{ ref('int_customer_campaign_engagement') }}
    where delivered_at >= {{ dbt.dateadd('day', -var('frequency_cap_days'), as_of()) }}
    group by customer_key
),

suppressed_addresses as (
    select
        email,
        min(reason) as reason
    from {{ ref('suppressed_addresses') }}
    group by email
),

rates_at_as_of as (
    {{ currency_rates_at_as_of() }}
),

recommended_products as (
    select
        recommendations.customer_key,
        {{ json_array_agg({
            'product_id': 'recommendations.product_id',
            'name': 'products.product_name',
            'image_url': 'products.image_url',
            'price': price_shown('products.price', 'product_rates.usd_per_unit', 'currencies.usd_per_unit'),
            'currency': 'currencies.currency_code',
        }, 'recommendations.rank') }} as recommended_products
    from {{ source('ml', 'recommendations') }} as recommendations
    left join {{ ref('stg_catalog__products') }} as products
        on recommendations.product_id = products.product_id
    left join rates_at_as_of as product_rates
        on products.currency_code = product_rates.currency_code
    left join {{ ref('int_customer_currencies_chosen') }} as currencies
        on recommendations.customer_key = currencies.customer_key
    where recommendations.rank <= {{ var('recommendations_per_customer') }}
    group by recommendations.customer_key
),

cart_items as (
    select
        cart.customer_key,
        {{ json_array_agg({
            'product_id': 'cart.product_id',
            'name': 'cart.product_name',
            'image_url': 'cart.image_url',
            'price': price_shown('cart.price', 'product_rates.usd_per_unit', 'currencies.usd_per_unit'),
            'currency': 'currencies.currency_code',
            'quantity': 'cart.quantity',
        }, 'cart.cart_rank') }} as cart_items
    from {{ ref('int_cart_items_abandoned') }} as cart
    left join rates_at_as_of as product_rates
        on cart.currency_code = product_rates.currency_code
    left join {{ ref('int_customer_currencies_chosen') }} as currencies
        on cart.customer_key = currencies.customer_key
    where cart.cart_rank <= {{ var('cart_items_per_customer') }}
    group by cart.customer_key
),

candidates as (
    select
        segment_destinations.destination,
        members.target_list as list_key,
        members.target_list as campaign_key,
        members.segment_name,
        members.campaign_group,
        members.priority,
        members.rank_in_campaign_group,
        profiles.customer_key,
        rfm.rfm_segment,
        clusters.cluster_name,
        profiles.loyalty_tier,
        members.offer,
        profiles.preferred_send_hour,
        recommended_products.recommended_products,
        cart_items.cart_items,
        coalesce(currencies.currency_code, '{{ var("reporting_currency") }}') as currency,
        consent.is_contactable,
        consent.consent_status,
        suppressed_addresses.reason as address_suppressed_for,
        coalesce(recent_sends.emails_sent, 0) as emails_sent_recently,
        least(
            {{ var('frequency_cap_emails') }},
            greatest(1, cast(ceil(coalesce(engagement.recommended_sends_per_week, 1)) as integer))
        ) as frequency_cap,
        member_arms.holdout_bucket,
        member_arms.holdout_arm,
        member_arms.arm_send_hour
    from members
    inner join segment_destinations
        on members.segment_name = segment_destinations.segment_name
    inner join {{ ref('customer_profiles') }} as profiles
        on members.customer_key = profiles.customer_key
    inner join {{ ref('int_customer_consent_resolved') }} as consent
        on members.customer_key = consent.customer_key
    left join {{ ref('customer_rfm') }} as rfm
        on members.customer_key = rfm.customer_key
    left join {{ ref('customer_engagement') }} as engagement
        on members.customer_key = engagement.customer_key
    left join {{ source('ml', 'customer_clusters') }} as clusters
        on members.customer_key = clusters.customer_key
    left join recommended_products
        on members.customer_key = recommended_products.customer_key
    left join cart_items
        on members.customer_key = cart_items.customer_key
    left join {{ ref('int_customer_currencies_chosen') }} as currencies
        on members.customer_key = currencies.customer_key
    left join recent_sends
        on members.customer_key = recent_sends.customer_key
    left join {{ ref('customer_contact_details') }} as contact_details
        on members.customer_key = contact_details.customer_key
    left join suppressed_addresses
        on contact_details.email = suppressed_addresses.email
    left join {{ ref('int_campaign_member_arms') }} as member_arms
        on
            members.target_list = member_arms.campaign_key
            and members.customer_key = member_arms.customer_key
)

select
    destination,
    list_key,
    campaign_key,
    segment_name,
    campaign_group,
    priority,
    customer_key,
    rfm_segment,
    cluster_name,
    loyalty_tier,
    offer,
    coalesce(arm_send_hour, preferred_send_hour) as preferred_send_hour,
    recommended_products,
    cart_items,
    currency,
    consent_status,
    emails_sent_recently,
    frequency_cap,
    holdout_bucket,
    {{ holdout_share() }} as holdout_share,
    holdout_arm,
    {{ holdout_hash_version() }} as holdout_hash_version,
    case
        when not is_contactable then 'consent_' || consent_status
        when address_suppressed_for is not null then 'address_' || address_suppressed_for
        when rank_in_campaign_group > 1 then 'lower_priority_in_campaign_group'
        when emails_sent_recently >= frequency_cap then 'frequency_cap'
    end as exclusion_reason,
    {{ as_of() }} as as_of
from candidates
