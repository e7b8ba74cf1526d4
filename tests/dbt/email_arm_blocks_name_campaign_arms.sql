{#- Words for an arm no campaign has would never be sent: returns every row of email_arm_blocks whose
    (campaign_key, arm) is not in campaign_arms. -#}
select
    blocks.campaign_key,
    blocks.arm
from {{ ref('email_arm_blocks') }} as blocks
left join {{ ref('campaign_arms') }} as arms
    on blocks.campaign_key = arms.campaign_key and blocks.arm = arms.arm
where arms.arm is null
