{#- Every arm of every campaign (a segment's target list) and the holdout buckets that fall in it:
    control [0, holdout_share), then either the one arm `treatment` [holdout_share, 1) or the arms
    of the campaign's content test (int_campaign_arm_ranges). audience_candidates assigns by the same
    macros (macros/run/holdout.sql); the holdout analysis reads this table to group a content test's
    campaigns and compare its arms with its baseline. -#}
with campaigns as (
    select
        target_list as campaign_key,
        {{ dbt.listagg('segment_name', "', '", "order by segment_name") }} as segment_name
    from {{ ref('segments') }}
    group by target_list
),

tested as (
    select distinct
        campaign_key,
        test_key
    from {{ ref('int_campaign_arm_ranges') }}
),

control_arms as (
    select
        campaigns.campaign_key,
        'control' as arm,
        0 as arm_order,
        cast(0 as double) as bucket_from,
        {{ holdout_share() }} as bucket_to,
        false as is_baseline,
        cast(null as integer) as send_hour
    from campaigns
),

single_arms as (
    select
        campaigns.campaign_key,
        'treatment' as arm,
        1 as arm_order,
        {{ holdout_share() }} as bucket_from,
        cast(1 as double) as bucket_to,
        false as is_baseline,
        cast(null as integer) as send_hour
    from campaigns
    left join tested
        on campaigns.campaign_key = tested.campaign_key
    where tested.campaign_key is null
),

test_arms as (
    select
        arm_ranges.campaign_key,
        arm_ranges.arm,
        arm_ranges.arm_order,
        arm_ranges.bucket_from,
        arm_ranges.bucket_to,
        arm_ranges.is_baseline,
        arm_ranges.send_hour
    from {{ ref('int_campaign_arm_ranges') }} as arm_ranges
    inner join campaigns
        on arm_ranges.campaign_key = campaigns.campaign_key
),

arms as (
    select * from control_arms
    union all
    select * from single_arms
    union all
    select * from test_arms
)

select
    arms.campaign_key,
    campaigns.segment_name,
    tested.test_key,
    arms.arm,
    arms.arm_order,
    arms.bucket_from,
    arms.bucket_to,
    arms.bucket_to - arms.bucket_from as share_of_members,
    arms.is_baseline,
    arms.send_hour,
    {{ as_of() }} as as_of
from arms
inner join campaigns
    on arms.campaign_key = campaigns.campaign_key
left join tested
    on arms.campaign_key = tested.campaign_key
