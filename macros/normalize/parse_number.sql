{#- Money and counts arrive as text; a value that is not a number is null (and flagged by callers). -#}
{% macro parse_decimal(expression) -%}
    {{ try_cast(clean_text(expression), "decimal(18, 4)") }}
{%- endmacro %}

{% macro parse_integer(expression) -%}
    {{ try_cast(clean_text(expression), "bigint") }}
{%- endmacro %}

{#- A cast that yields null instead of failing the whole model on one bad value. -#}
{% macro try_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('try_cast', 'audience_warehouse')(expression, data_type)) }}
{%- endmacro %}

{% macro default__try_cast(expression, data_type) -%}
    {{ dbt.safe_cast(expression, data_type) }}
{%- endmacro %}

{% macro duckdb__try_cast(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}
