{#- One row per campaign; when a campaign lands twice the latest send wins. -#}
with latest_versions as (
    {{ first_valid_rows(
        ref('base_email__campaigns'),
        key='campaign_id',
        order_by='sent_at desc nulls last, _landing_file desc, _landing_row desc'
    ) }}
)

select
    campaign_id,
    campaign_name,
    subject,
    sent_at,
    segment_name,
    _landing_file as landing_file
from latest_versions
