{#- What each destination list should hold at as_of: contactable segment members, one segment per
    campaign group, under the frequency cap, with their merge fields. Both holdout arms are listed
    (holdout_arm, with the bucket, share and hash that decided it); the sync engine exports the
    treatment arm only and logs the assignment. -#}
select
    destination,
    list_key,
    campaign_key,
    segment_name,
    campaign_group,
    customer_key,
    rfm_segment,
    cluster_name,
    loyalty_tier,
    offer,
    preferred_send_hour,
    recommended_products,
    cart_items,
    currency,
    holdout_arm,
    holdout_bucket,
    holdout_share,
    holdout_hash_version,
    as_of
from {{ ref('audience_candidates') }}
where exclusion_reason is null
