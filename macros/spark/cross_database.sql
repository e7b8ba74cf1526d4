{#- Spark variants of dbt's cross-database macros, found first through the project's dispatch
    search order (dbt_project.yml), where dbt-spark's own would differ from DuckDB's results. -#}

{#- A bare `varchar` (the contracts' text type, DuckDB's name) is `string` on Spark, which wants a
    length for varchar: dbt's contract check casts null to each YAML data_type. -#}
{% macro spark__cast(field, type) -%}
    cast({{ field }} as {{ 'string' if type | trim | lower == 'varchar' else type }})
{%- endmacro %}

{#- timestampadd keeps fractions of a second, which dbt-spark's day arithmetic through Unix
    seconds drops; DuckDB's `+ interval` keeps them too. -#}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }})
{%- endmacro %}

{#- DuckDB's string_agg(distinct x, ', ' order by x): dbt-spark ignores the order. Only the forms
    the project uses: an optionally distinct column, ordered by itself. -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- set distinct = (measure | trim | lower).startswith('distinct ') -%}
    {%- set column = (measure | trim)[9:] if distinct else measure | trim -%}
    {%- if order_by_clause and (order_by_clause | trim | lower) != ('order by ' ~ column | lower) -%}
        {{ exceptions.raise_compiler_error("spark__listagg orders only by the aggregated column, got: " ~ order_by_clause) }}
    {%- endif -%}
    array_join(array_sort({{ 'collect_set' if distinct else 'collect_list' }}({{ column }})), {{ delimiter_text }})
{%- endmacro %}
