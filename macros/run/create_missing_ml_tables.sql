{#- on-run-start: create every source marked meta.create_if_missing that does not exist yet, empty,
    with the columns and types of its YAML, so that dbt alone (without the ML assets) still builds
    the models that read them. Existing tables are never touched. -#}
{% macro create_missing_ml_tables() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- for node in graph.sources.values() if (node.source_meta or {}).get('create_if_missing') -%}
        {%- set relation = api.Relation.create(database=node.database, schema=node.schema, identifier=node.identifier) -%}
        {%- if adapter.get_relation(database=node.database, schema=node.schema, identifier=node.identifier) is none -%}
            {%- set columns = [] -%}
            {%- for column in node.columns.values() -%}
                {%- do columns.append(adapter.quote(column.name) ~ ' ' ~ ('string' if target.type == 'spark' and column.data_type | lower == 'varchar' else column.data_type)) -%}
            {%- endfor -%}
            {%- do adapter.create_schema(relation) -%}
            {%- do run_query('create table ' ~ relation ~ ' (' ~ columns | join(', ') ~ ')') -%}
            {%- do log('created empty ' ~ relation ~ ' (no ML run yet)', info=true) -%}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}
