{#- The treatment arms of a content test split all of the campaign's treated members: their shares
    sum to 1, at most one arm is the baseline and the campaign is in one test. Returns every
    campaign that breaks any of these. -#}
select
    campaign_key,
    sum(treatment_share) as total_share,
    count(*) filter (where is_baseline) as baselines,
    count(distinct test_key) as tests
from {{ ref('campaign_arms') }}
group by campaign_key
having
    abs(sum(treatment_share) - 1) > 1e-9
    or count(*) filter (where is_baseline) > 1
    or count(distinct test_key) > 1
