{#- One row per currency and validity range, so an amount converts with the rate in effect on its
    date by a range join that any warehouse can run. -#}
with rates as (
    select
        upper(trim(currency_code)) as currency_code,
        cast(valid_from as timestamp) as valid_from,
        cast(usd_per_unit as decimal(18, 8)) as usd_per_unit
    from {{ ref('currency_rates') }}
)

select
    currency_code,
    valid_from,
    {{ valid_until('currency_code', 'valid_from') }} as valid_to,
    usd_per_unit
from rates
