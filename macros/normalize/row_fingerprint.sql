{#- The landed row (every contract column as text, without its file and position) as JSON text: kept in
    quarantine so a rejected row can be read and fixed, and hashed into a stable id for rows that
    have no usable key. Call it in a select whose FROM is the landing source alone. -#}
{% macro landed_row_json() -%}
    {{ return(adapter.dispatch('landed_row_json', 'audience_warehouse')()) }}
{%- endmacro %}

{% macro default__landed_row_json() -%}
    {{ exceptions.raise_compiler_error("landed_row_json has no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__landed_row_json() -%}
    cast(to_json(struct_pack(*columns(c -> c not in ('_landing_file', '_landing_row')))) as varchar)
{%- endmacro %}
