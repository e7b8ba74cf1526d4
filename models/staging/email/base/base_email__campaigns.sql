{#- Every landed campaign row, parsed, with the first rule it breaks. A campaign with no send time
    is a draft and stays (sent_at null). -#}
with landed as (
    {{ landed_rows('email', 'campaigns') }}
),

parsed as (
    select
        {{ clean_text('campaign_id') }} as campaign_id,
        {{ clean_text('name') }} as campaign_name,
        {{ clean_text('subject') }} as subject,
        {{ timestamp_columns('sent_at') }},
        {{ clean_text('segment_name') }} as segment_name,
        {{ landing_lineage_columns() }}
    from landed
),

checked as (
    select
        *,
        coalesce(campaign_id, landing_row_hash) as row_key,
        case
            when campaign_id is null then 'missing_campaign_id'
            when sent_at_text is not null and sent_at is null then 'unparseable_sent_at'
        end as rejection_rule
    from parsed
)

select
    *,
    case rejection_rule when 'unparseable_sent_at' then sent_at_text end as rejection_detail
from checked
