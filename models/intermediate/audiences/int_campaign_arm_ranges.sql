{#- The bucket range of every treatment arm of the campaigns that test several (seed campaign_arms):
    the treated part of the bucket line, [var holdout_share, 1), cut in arm_order into consecutive
    ranges in proportion to treatment_share. Each range ends where the next begins and the last at
    1 exactly, so every treated bucket falls in one arm; macros/run/holdout.sql assigns it. A
    campaign without rows here keeps its one arm, treatment. -#}
with shares as (
    select
        *,
        coalesce(
            sum(treatment_share) over (
                partition by campaign_key order by arm_order rows between unbounded preceding and 1 preceding
            ),
            0
        ) / sum(treatment_share) over (partition by campaign_key) as treated_from
    from {{ ref('campaign_arms') }}
),

starts as (
    select
        *,
        {{ holdout_share() }} + (1 - {{ holdout_share() }}) * treated_from as bucket_from
    from shares
)

select
    campaign_key,
    test_key,
    arm,
    arm_order,
    treatment_share,
    is_baseline,
    send_hour,
    bucket_from,
    coalesce(lead(bucket_from) over (partition by campaign_key order by arm_order), 1.0) as bucket_to
from starts
