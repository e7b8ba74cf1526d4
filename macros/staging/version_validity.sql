{#- When a version of a key stops being in effect: at the key's next version, else never (the end of
    time, 9999-12-31). The one statement of the interval rule for int_contact_versions_tracked,
    int_order_versions_tracked and stg_reference__currency_rates. -#}
{% macro valid_until(key, version_at) -%}
    coalesce(
        lead({{ version_at }}) over (partition by {{ key }} order by {{ version_at }}),
        cast('9999-12-31' as timestamp)
    )
{%- endmacro %}

{#- A version's interval and whether it is the key's latest: valid_from, valid_to, is_current. -#}
{% macro version_validity_columns(key, version_at) -%}
    {{ version_at }} as valid_from,
    {{ valid_until(key, version_at) }} as valid_to,
    lead({{ version_at }}) over (partition by {{ key }} order by {{ version_at }}) is null as is_current
{%- endmacro %}
