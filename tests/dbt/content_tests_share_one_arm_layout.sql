{#- Campaigns of one content test (test_key) are pooled per arm by the analysis, which is a fair
    comparison only when every campaign gives each arm the same share: returns each test whose
    campaigns lay their arms out differently. -#}
{%- set text = dbt.type_string() -%}
{%- set arm_layout = "arm || ':' || cast(arm_order as " ~ text ~ ") || ':' || cast(treatment_share as "
    ~ text ~ ") || ':' || cast(is_baseline as " ~ text ~ ")" -%}

with layouts as (
    select
        test_key,
        campaign_key,
        {{ dbt.listagg(arm_layout, "','", "order by " ~ arm_layout) }} as layout
    from {{ ref('campaign_arms') }}
    group by test_key, campaign_key
)

select
    test_key,
    count(distinct layout) as layouts
from layouts
group by test_key
having count(distinct layout) > 1
