{#- One row per data-subject request. A request without a request_id is still a request: it is
    keyed by the hash of its row. When an id lands twice the earliest request is kept. -#}
with valid_requests as (
    select
        *,
        coalesce(request_id, 'row:' || landing_row_hash) as request_key
    from {{ ref('base_privacy__requests') }}
    where rejection_rule is null
),

ranked as (
    select
        *,
        row_number() over (
            partition by request_key
            order by requested_at nulls first, _landing_file, _landing_row
        ) as copy_rank
    from valid_requests
)

select
    request_key,
    request_id,
    contact_id,
    email,
    is_email_valid,
    request_type,
    requested_at,
    is_requested_at_known,
    _landing_file as landing_file
from ranked
where copy_rank = 1
