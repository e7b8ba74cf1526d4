{#- A select of no rows with these columns (a dict of name: SQL type, in order): what a union over
    an empty list stands in for (no segments yet, or the landed tables while the graph is empty
    inside a unit test). Use dbt's cross-database types: dbt.type_string(), dbt.type_bigint()... -#}
{% macro no_rows(columns) -%}
    select
    {%- for name, data_type in columns.items() %}
        cast(null as {{ data_type }}) as {{ name }}{% if not loop.last %},{% endif %}
    {%- endfor %}
    where false
{%- endmacro %}
