{#- Each currency's US dollars per unit in effect at as_of (the rate whose validity range holds it):
    the rates a price shown to a customer converts with, for int_customer_currencies_chosen and
    audience_candidates alike. -#}
{% macro currency_rates_at_as_of() -%}
    select
        currency_code,
        usd_per_unit
    from {{ ref('stg_reference__currency_rates') }}
    where {{ as_of() }} >= valid_from and {{ as_of() }} < valid_to
{%- endmacro %}

{#- A price shown to a customer: `price`, in a currency worth `price_usd_per_unit`, in the
    customer's chosen currency (worth `customer_usd_per_unit`, int_customer_currencies_chosen),
    at the rates above, to the cent. -#}
{% macro price_shown(price, price_usd_per_unit, customer_usd_per_unit) -%}
    cast(round({{ price }} * {{ price_usd_per_unit }} / {{ customer_usd_per_unit }}, 2) as double)
{%- endmacro %}
