{#- The arm of every segment member in every campaign (a segment's target list) it belongs to,
    decided here once: the holdout bucket of (campaign, customer) (macros/run/holdout.sql) is
    control below var holdout_share and, above it, the arm of the campaign's content test whose
    range holds it (int_campaign_arm_ranges), or `treatment` for a campaign without a test. A
    content-test arm may set the hour the e-mail is sent at. audience_candidates takes the arm
    from here; who may be sent at all is decided there, after, and never by the arm. -#}
with campaign_members as (
    select distinct
        listed.target_list as campaign_key,
        membership.customer_key
    from {{ ref('segment_membership') }} as membership
    inner join {{ ref('segments') }} as listed
        on membership.segment_name = listed.segment_name
),

bucketed as (
    select
        campaign_key,
        customer_key,
        {{ holdout_bucket('campaign_key', 'customer_key') }} as holdout_bucket
    from campaign_members
)

select
    bucketed.campaign_key,
    bucketed.customer_key,
    bucketed.holdout_bucket,
    {{ holdout_arm('bucketed.holdout_bucket', 'arm_ranges.arm') }} as holdout_arm,
    case when bucketed.holdout_bucket >= {{ holdout_share() }} then arm_ranges.send_hour end as arm_send_hour
from bucketed
left join {{ ref('int_campaign_arm_ranges') }} as arm_ranges
    on
        bucketed.campaign_key = arm_ranges.campaign_key
        and bucketed.holdout_bucket >= arm_ranges.bucket_from
        and bucketed.holdout_bucket < arm_ranges.bucket_to
