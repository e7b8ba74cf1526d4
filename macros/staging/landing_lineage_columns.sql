{#- Where a parsed row came from, carried by every base model: the landing file and row, the landed
    row as JSON (what quarantine shows a reviewer) and its hash (the row key when the id is missing).
    With parse_batch, also when this build parsed it (_parsed_at: incremental base models). -#}
{% macro landing_lineage_columns(parse_batch=false) -%}
    _landing_file,
        _landing_row,
        {{ dbt.hash('landed_row') }} as landing_row_hash,
        landed_row
        {%- if parse_batch %},
        {{ parse_batch_timestamp() }} as _parsed_at
        {%- endif %}
{%- endmacro %}
