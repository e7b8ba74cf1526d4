{#- Every valid version of every order known before as_of, with the interval it was in effect, so
    an order's status and amounts can be read as they were at any point in time (a refund or a
    netted cancellation counts from the moment it was recorded, never earlier). A version is known
    from its updated_at, never before the order was placed; without one, from ordered_at. Of
    versions known at the same moment the status of highest precedence wins, as in staging. -#}
with versions as (
    select
        *,
        greatest(ordered_at, coalesce(updated_at, ordered_at)) as known_at
    from {{ ref('base_orders__orders') }}
    where rejection_rule is null
),

known_versions as (
    select
        *,
        row_number() over (
            partition by order_id, known_at
            order by status_precedence desc, _landing_file desc, _landing_row desc
        ) as rank_at_moment
    from versions
    where {{ before_as_of('known_at') }}
)

select
    order_id,
    contact_id,
    email,
    ordered_at,
    order_status,
    is_purchase,
    channel,
    currency_code,
    discount_reporting,
    shipping_reporting,
    total_reporting,
    {{ version_validity_columns('order_id', 'known_at') }}
from known_versions
where rank_at_moment = 1
