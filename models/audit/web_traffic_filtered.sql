{#- Web events before as_of by what became of them: used for profiling, or set aside as bot
    traffic, anonymous (never stitched), on a shared device, or without tracking consent. Nothing
    is dropped silently: the counts add up to every staged event before as_of. -#}
select
    case
        when is_usable then 'used'
        when is_bot then 'bot'
        when attribution_method = 'anonymous_shared_device' then 'anonymous_shared_device'
        when customer_key is null then 'anonymous'
        else 'no_tracking_consent'
    end as outcome,
    count(*) as events,
    count(distinct visitor_id) as visitors,
    {{ as_of() }} as as_of
from {{ ref('int_web_events_attributed') }}
group by 1
