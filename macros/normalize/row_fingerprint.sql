{#- The landed row (every contract column as text, without its file and position) as JSON text: kept in
    quarantine so a rejected row can be read and fixed, and hashed into a stable id for rows that
    have no usable key. Call it in a select whose FROM is the landing source alone. -#}
{% macro landed_row_json(relation) -%}
    {{ return(adapter.dispatch('landed_row_json', 'audience_warehouse')(relation)) }}
{%- endmacro %}

{% macro default__landed_row_json(relation) -%}
    {{ exceptions.raise_compiler_error("landed_row_json has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{#- Spark: the landing table's columns in order, nulls written as DuckDB writes them. -#}
{% macro spark__landed_row_json(relation) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name not in ('_landing_file', '_landing_row') -%}
            {%- do names.append(column.name) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if not names -%}
        cast(null as string)
    {%- else -%}
    to_json(named_struct(
        {%- for name in names %}'{{ name }}', `{{ name }}`{{ ", " if not loop.last }}{% endfor -%}
    ), map('ignoreNullFields', 'false'))
    {%- endif -%}
{%- endmacro %}

{% macro duckdb__landed_row_json(relation) -%}
    cast(to_json(struct_pack(*columns(c -> c not in ('_landing_file', '_landing_row')))) as varchar)
{%- endmacro %}
