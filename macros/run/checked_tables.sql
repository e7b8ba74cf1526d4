{#- Every landed table (each table of a source with `meta.landing`, in
    models/staging/<source>/_<source>__sources.yml), sorted by source and table, with its checking
    model base_<source>__<table>, its staging model stg_<source>__<table> and the key staging keeps
    one row per (the table's meta.staging.unique_key). quarantined_rows and source_reconciliation
    loop over it, so a new landed table is its source entry and its two models, named as above.

    Read from the graph at execute time. The graph is empty while dbt parses and inside unit tests:
    the list is then empty (the models union nothing). Because dbt records dependencies while it
    parses, a model that loops over this list carries them as generated `-- depends_on:` lines
    (`python -m warehouse.dependencies refresh`; `make setup` and `make dbt` run it), and names in
    `reads` what it reads of each table ('source', 'base', 'staging'): one of those missing from its
    dependencies is a clear error, never a model built in the wrong order. -#}
{% macro checked_tables(reads=[]) -%}
    {%- if not execute or not graph.sources -%}{{ return([]) }}{%- endif -%}
    {%- set project = model.package_name -%}
    {%- set checked = [] -%}
    {%- set problems = [] -%}
    {%- for table in graph.sources.values() | sort(attribute='unique_id') -%}
        {%- if 'landing' in (table.source_meta or {}) -%}
            {%- set entry = {
                'source': table.source_name,
                'table': table.name,
                'base': 'base_' ~ table.source_name ~ '__' ~ table.name,
                'staging': 'stg_' ~ table.source_name ~ '__' ~ table.name,
                'key': ((table.meta or {}).get('staging') or {}).get('unique_key'),
            } -%}
            {%- set described = table.source_name ~ '.' ~ table.name ~ ' (' ~ table.original_file_path ~ ')' -%}
            {%- if not entry.key -%}
                {%- do problems.append(described ~ ' has no meta.staging.unique_key') -%}
            {%- endif -%}
            {%- for role in ['base', 'staging'] -%}
                {%- set unique_id = 'model.' ~ project ~ '.' ~ entry[role] -%}
                {%- if unique_id not in graph.nodes -%}
                    {%- do problems.append(described ~ ' has no model ' ~ entry[role]) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- for role in reads -%}
                {%- if role == 'source' -%}
                    {%- set unique_id = table.unique_id -%}
                {%- else -%}
                    {%- set unique_id = 'model.' ~ project ~ '.' ~ entry[role] -%}
                {%- endif -%}
                {%- if unique_id not in model.depends_on.nodes -%}
                    {%- do problems.append(
                        model.name ~ ' does not list ' ~ unique_id ~ ' among its dependencies: run '
                        ~ '`python -m warehouse.dependencies refresh` (or `make dbt`)'
                    ) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do checked.append(entry) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error("Landed tables are not all checked:\n- " ~ problems | join("\n- ")) }}
    {%- endif -%}
    {{ return(checked) }}
{%- endmacro %}
