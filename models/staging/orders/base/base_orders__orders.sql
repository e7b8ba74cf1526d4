{{
    config(
        materialized=landing_materialization(),
        unique_key='_landing_file',
        post_hook="{{ delete_unlanded_and_erased_rows('orders', 'orders') }}",
    )
}}
{#- Every landed order row, parsed, converted to the reporting currency at the rate of its date,
    with the first rule it breaks (null when valid). -#}
-- depends_on: {{ source('landing_audit', 'landing_files') }}
with landed as (
    {{ landed_rows('orders', 'orders', time_column='ordered_at') }}
),

parsed as (
    select
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('contact_id') }} as contact_id,
        {{ normalize_email('email') }} as email,
        {{ timestamp_columns('ordered_at') }},
        lower({{ clean_text('status') }}) as order_status,
        upper({{ clean_text('currency') }}) as currency_code,
        {{ parse_decimal('subtotal') }} as subtotal,
        {{ parse_decimal('discount') }} as discount,
        {{ parse_decimal('shipping') }} as shipping,
        {{ parse_decimal('total') }} as total,
        {{ clean_text('total') }} as total_text,
        lower({{ clean_text('channel') }}) as channel,
        {{ parse_timestamp('updated_at') }} as updated_at,
        nullif(concat_ws(
            ',',
            case when {{ given_but_invalid('subtotal', parse_decimal('subtotal')) }} then 'subtotal' end,
            case when {{ given_but_invalid('discount', parse_decimal('discount')) }} then 'discount' end,
            case when {{ given_but_invalid('shipping', parse_decimal('shipping')) }} then 'shipping' end,
            case when {{ given_but_invalid('updated_at', parse_timestamp('updated_at')) }} then 'updated_at' end
        ), '') as invalid_value_columns,
        {{ landing_lineage_columns(parse_batch=true) }}
    from landed
),

converted as (
    select
        parsed.*,
        order_rates.currency_code is not null as has_order_rate,
        reporting_rates.currency_code is not null as has_reporting_rate,
        cast(order_rates.usd_per_unit / reporting_rates.usd_per_unit as double) as rate_to_reporting,
        statuses.order_status is not null as is_known_status,
        coalesce(statuses.is_purchase, false) as is_purchase,
        statuses.status_precedence
    from parsed
    left join {{ ref('stg_reference__currency_rates') }} as order_rates
        on parsed.currency_code = order_rates.currency_code
            and parsed.ordered_at >= order_rates.valid_from
            and parsed.ordered_at < order_rates.valid_to
    left join {{ ref('stg_reference__currency_rates') }} as reporting_rates
        on reporting_rates.currency_code = '{{ var("reporting_currency") }}'
            and parsed.ordered_at >= reporting_rates.valid_from
            and parsed.ordered_at < reporting_rates.valid_to
    left join {{ ref('stg_reference__order_statuses') }} as statuses
        on parsed.order_status = statuses.order_status
),

known_currencies as (
    select distinct currency_code from {{ ref('stg_reference__currency_rates') }}
),

checked as (
    select
        converted.*,
        converted.currency_code in (select known_currencies.currency_code from known_currencies)
            as is_known_currency,
        cast(converted.total * converted.rate_to_reporting as decimal(18, 2)) as total_reporting
    from converted
),

ruled as (
    select
        *,
        cast(subtotal * rate_to_reporting as decimal(18, 2)) as subtotal_reporting,
        cast(discount * rate_to_reporting as decimal(18, 2)) as discount_reporting,
        cast(shipping * rate_to_reporting as decimal(18, 2)) as shipping_reporting,
        coalesce(
            abs(coalesce(subtotal, 0) - coalesce(discount, 0) + coalesce(shipping, 0) - total)
            <= {{ var('order_amount_tolerance') }},
            false
        ) as are_amounts_consistent,
        {{ is_valid_email('email') }} as is_email_valid,
        coalesce(order_id, landing_row_hash) as row_key,
        case
            when order_id is null then 'missing_order_id'
            {{ required_timestamp_rules('ordered_at') }}
            when not is_known_status then 'unknown_status'
            when total_text is null then 'missing_total'
            when total is null then 'unparseable_total'
            when not is_known_currency then 'unknown_currency'
            when not (has_order_rate and has_reporting_rate) then 'no_exchange_rate'
            when total < 0 then 'negative_total'
            when total_reporting > {{ var('max_plausible_order_total') }} then 'implausible_total'
        end as rejection_rule
    from checked
)

select
    *,
    case rejection_rule
        {{ required_timestamp_details('ordered_at') }}
        when 'unknown_status' then order_status
        when 'unparseable_total' then total_text
        when 'unknown_currency' then currency_code
        when 'no_exchange_rate' then currency_code || ' on ' || cast(ordered_at as {{ dbt.type_string() }})
        when 'negative_total' then total_text
        when 'implausible_total' then total_text
    end as rejection_detail
from ruled
