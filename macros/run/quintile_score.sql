{#- 1-5 score by rank among all rows: 1 + floor(5 * (rank - 1) / (rows - 1)), capped at 5, in exact
    integer arithmetic (a floating percent rank lands 3/5 a score too low). Equal values share a
    rank, so they always get the same score; a single row scores 1. -#}
{% macro quintile_score(order_by) -%}
    least(
        5,
        1 + coalesce({{ integer_divide('5 * (rank() over (order by ' ~ order_by ~ ') - 1)', 'nullif(count(*) over () - 1, 0)') }}, 0)
    )
{%- endmacro %}

{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'audience_warehouse')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    cast(floor(({{ numerator }}) / ({{ denominator }})) as integer)
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    cast(({{ numerator }}) // ({{ denominator }}) as integer)
{%- endmacro %}
