{#- The arm a member is sent is the arm audience_campaign_arms gives the member's bucket in that
    campaign: returns every member whose (campaign, arm) is not there or whose bucket lies outside
    the arm's range. -#}
select
    members.destination,
    members.list_key,
    members.customer_key,
    members.holdout_arm,
    members.holdout_bucket
from {{ ref('audience_members') }} as members
left join {{ ref('audience_campaign_arms') }} as arms
    on members.campaign_key = arms.campaign_key and members.holdout_arm = arms.arm
where
    arms.arm is null
    or members.holdout_bucket < arms.bucket_from
    or members.holdout_bucket >= arms.bucket_to
