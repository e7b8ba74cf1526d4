{#- One row per campaign; when a campaign lands twice the latest send wins. -#}
with valid_versions as (
    select *
    from {{ ref('base_email__campaigns') }}
    where rejection_rule is null
),

ranked as (
    select
        *,
        row_number() over (
            partition by campaign_id
            order by sent_at desc nulls last, _landing_file desc, _landing_row desc
        ) as version_rank
    from valid_versions
)

select
    campaign_id,
    campaign_name,
    subject,
    sent_at,
    segment_name,
    _landing_file as landing_file
from ranked
where version_rank = 1
