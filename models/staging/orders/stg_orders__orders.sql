{#- One row per order. The same order may land several times (a re-export after a refund); with no
    updated_at in the contract, the status of highest precedence wins (terminal statuses:
    refunded > cancelled > completed > pending), see seeds/order_statuses.csv. -#}
with valid_versions as (
    select *
    from {{ ref('base_orders__orders') }}
    where rejection_rule is null
),

ranked as (
    select
        *,
        count(*) over (partition by order_id) as versions_landed,
        row_number() over (
            partition by order_id
            order by status_precedence desc, ordered_at desc, _landing_file desc, _landing_row desc
        ) as version_rank
    from valid_versions
)

select
    order_id,
    contact_id,
    email,
    is_email_valid,
    ordered_at,
    order_status,
    is_purchase,
    channel,
    currency_code,
    rate_to_reporting,
    subtotal,
    discount,
    shipping,
    total,
    subtotal_reporting,
    discount_reporting,
    shipping_reporting,
    total_reporting,
    are_amounts_consistent,
    versions_landed,
    invalid_value_columns,
    _landing_file as landing_file
from ranked
where version_rank = 1
