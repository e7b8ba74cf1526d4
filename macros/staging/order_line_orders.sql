{#- What an order line takes from its order: one row per landed order id, whether any of its
    versions is valid, and the reporting rate of its staged (latest valid) version. A line whose
    order id is not here is an orphan whose order did not land. -#}
{% macro order_line_order_states() -%}
    select
        landed_orders.order_id,
        landed_orders.has_valid_version = 1 as is_order_valid,
        staged_orders.rate_to_reporting
    from (
        select
            order_id,
            max(case when rejection_rule is null then 1 else 0 end) as has_valid_version
        from {{ ref('base_orders__orders') }}
        where order_id is not null
        group by order_id
    ) as landed_orders
    left join {{ ref('stg_orders__orders') }} as staged_orders
        on landed_orders.order_id = staged_orders.order_id
{%- endmacro %}

{#- The stale_files of the incremental base model of order lines (landing_files_to_parse): the files
    holding a line parsed while its order stood otherwise than it stands now (landed, valid, or its
    rate: a line whose order landed after it, was quarantined or admitted since, or whose latest
    version changed currency). Parsed again, their lines get the verdict and price a full build
    would give. A line whose order id has a tombstone does not count: its order is gone because it
    was erased, and the post-hook deletes the line itself (delete_unlanded_and_erased_rows), so an
    erasure parses no file again. -#}
{% macro stale_order_line_files() -%}
    select stale_lines._landing_file
    from (
        select
            lines._landing_file,
            {{ erasure_hash_columns({'order_id': 'lines.order_id'}) }}
        from {{ this }} as lines
        left join (
            {{ order_line_order_states() }}
        ) as order_states
            on lines.order_id = order_states.order_id
        where
            lines.order_id is not null
            and (
                lines.is_order_landed <> (order_states.order_id is not null)
                or lines.is_order_valid <> coalesce(order_states.is_order_valid, false)
                or lines.rate_to_reporting is distinct from order_states.rate_to_reporting
            )
    ) as stale_lines
    where not {{ has_tombstone(['order_id'], 'stale_lines') }}
{%- endmacro %}
