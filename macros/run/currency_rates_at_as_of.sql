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
