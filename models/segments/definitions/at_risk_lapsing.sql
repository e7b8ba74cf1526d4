{#- Good customers slipping away: RFM segment in var at_risk_rfm_segments (At Risk, Can't Lose,
    About to Sleep). -#}
select customer_key
from {{ ref('customer_rfm') }}
where {{ is_one_of('rfm_segment', var('at_risk_rfm_segments')) }}
