{{
    config(
        materialized=landing_materialization(),
        unique_key='order_id',
        post_hook="{{ delete_unbacked_keys(ref('base_orders__orders'), 'order_id') }}",
    )
}}

{#- One row per order: its latest version. The same order may land several times (a re-export
    after a refund); the version written last (updated_at, never before ordered_at; blank counts as
    ordered_at) wins, and between versions of the same time the status of highest precedence
    (terminal statuses: refunded > cancelled > completed > pending, seeds/order_statuses.csv).
    What was in effect at an earlier time: int_order_versions_tracked. -#}
with latest_versions as (
    {{ first_valid_rows(
        ref('base_orders__orders'),
        key='order_id',
        order_by=[
            'greatest(ordered_at, coalesce(updated_at, ordered_at)) desc',
            'status_precedence desc',
            'ordered_at desc',
            '_landing_file desc',
            '_landing_row desc',
        ],
        count_versions=true,
        parse_batch=true
    ) }}
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
    updated_at,
    versions_landed,
    invalid_value_columns,
    _landing_file as landing_file,
    _valid_rows,
    _key_parsed_at as _parsed_at
from latest_versions
