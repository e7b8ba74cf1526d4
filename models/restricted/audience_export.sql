{#- What the sync engine sends: every audience member (every arm; the engine exports every arm but
    control, the arm as a merge field) with the address, whether it is valid (var valid_email_pattern, decided in
    staging) and the names it is sent to. The engine acts on holdout_arm and is_email_valid and
    never recomputes them. The only audience table that holds direct identifiers, kept out of the
    published snapshot. -#}
select
    members.destination,
    members.list_key,
    members.campaign_key,
    members.segment_name,
    members.campaign_group,
    members.customer_key,
    contact_details.email,
    contact_details.is_email_valid,
    contact_details.first_name,
    contact_details.last_name,
    members.rfm_segment,
    members.cluster_name,
    members.loyalty_tier,
    members.offer,
    members.preferred_send_hour,
    members.recommended_products,
    members.cart_items,
    members.currency,
    members.holdout_arm,
    members.holdout_bucket,
    members.holdout_share,
    members.holdout_hash_version,
    members.as_of
from {{ ref('audience_members') }} as members
inner join {{ ref('customer_contact_details') }} as contact_details
    on members.customer_key = contact_details.customer_key
