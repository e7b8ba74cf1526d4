{#- Where a parsed row came from, carried by every base model: the landing file and row, the landed
    row as JSON (what quarantine shows a reviewer) and its hash (the row key when the id is missing). -#}
{% macro landing_lineage_columns() -%}
    _landing_file,
        _landing_row,
        {{ dbt.hash('landed_row') }} as landing_row_hash,
        landed_row
{%- endmacro %}
