{#- Every segment model (tagged `segment`), sorted by name, checked for the catalog metadata the
    audiences need. Empty while dbt parses; the catalog models read the segments' relations at run
    time, and Dagster orders them after every segment (see orchestration/translator.py). -#}
{% macro segment_nodes() -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set required = ['owner', 'priority', 'target_list', 'campaign_group'] -%}
    {%- set nodes = [] -%}
    {%- set problems = [] -%}
    {%- for node in graph.nodes.values() | sort(attribute='name') -%}
        {%- if node.resource_type == 'model' and 'segment' in node.tags -%}
            {%- set meta = (node.config.meta or {}).get('segment', {}) -%}
            {%- set missing = required | reject('in', meta) | list -%}
            {%- if missing -%}
                {%- do problems.append(node.name ~ ' (' ~ node.original_file_path ~ ') lacks meta.segment.' ~ missing | join(', meta.segment.')) -%}
            {%- endif -%}
            {%- if not node.description -%}
                {%- do problems.append(node.name ~ ' has no description in its YAML') -%}
            {%- endif -%}
            {%- do nodes.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error("Segment definitions are incomplete:\n- " ~ problems | join("\n- ")) }}
    {%- endif -%}
    {{ return(nodes) }}
{%- endmacro %}

{#- The built table of a segment. dbt cannot order the catalog after segments it discovers at run
    time, so a segment that was never built is a clear error saying what to run. `dbt compile` (and
    sqlfluff, which compiles) only renders SQL, so there the relation's name is enough. -#}
{% macro segment_relation(node) -%}
    {%- set relation = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
    {%- if relation is none and flags.WHICH == 'compile' -%}
        {{ return(api.Relation.create(database=node.database, schema=node.schema, identifier=node.alias)) }}
    {%- endif -%}
    {%- if relation is none -%}
        {{ exceptions.raise_compiler_error(
            "Segment " ~ node.name ~ " has not been built yet, so the catalog cannot read it. Build the segments "
            ~ "first, then the catalog: `dbt build --exclude tag:segment_catalog+` and then "
            ~ "`dbt build --select tag:segment_catalog+` (Dagster and `make run` do this order for you)."
        ) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}

{% macro sql_text(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}
