select
    lower(trim(status)) as order_status,
    cast(precedence as integer) as status_precedence,
    cast(is_purchase as boolean) as is_purchase,
    description
from {{ ref('order_statuses') }}
