{#- Reads our e-mails (at least var engaged_inactive_min_emails_opened opened and an open rate of
    var engaged_inactive_min_open_rate or more, privacy-proxy opens excluded) but has not bought in
    var engaged_inactive_days_without_purchase days. -#}
select engagement.customer_key
from {{ ref('customer_engagement') }} as engagement
inner join {{ ref('customer_rfm') }} as rfm
    on engagement.customer_key = rfm.customer_key
where
    engagement.emails_opened >= {{ var('engaged_inactive_min_emails_opened') }}
    and engagement.open_rate >= {{ var('engaged_inactive_min_open_rate') }}
    and (rfm.recency_days is null or rfm.recency_days > {{ var('engaged_inactive_days_without_purchase') }})
