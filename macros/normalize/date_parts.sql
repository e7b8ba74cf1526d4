{#- Hour of day 0-23. -#}
{% macro hour_of_day(expression) -%}
    extract(hour from {{ expression }})
{%- endmacro %}

{#- Day of week, 0 = Sunday ... 6 = Saturday. -#}
{% macro day_of_week(expression) -%}
    {{ return(adapter.dispatch('day_of_week', 'audience_warehouse')(expression)) }}
{%- endmacro %}

{% macro default__day_of_week(expression) -%}
    extract(dow from {{ expression }})
{%- endmacro %}

{#- Spark counts Sunday as 1. -#}
{% macro spark__day_of_week(expression) -%}
    (dayofweek({{ expression }}) - 1)
{%- endmacro %}

{% macro duckdb__day_of_week(expression) -%}
    dayofweek({{ expression }})
{%- endmacro %}
