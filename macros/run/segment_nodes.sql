{#- Every segment model (tagged `segment`), sorted by name, checked for the catalog metadata the
    audiences need, and for campaign groups that mix refreshes: a group must be all `triggered` or
    all `daily`, since the triggered_audiences job syncs only triggered lists and a customer who
    moved between the group's lists would sit in two of them until the daily run. Empty while dbt
    parses. A model that reads the segments' tables
    (`require_dependencies`) must list each of them as a dependency — the block that
    `make segments` writes — so that dbt builds every segment before it. -#}
{% macro segment_nodes(require_dependencies=false) -%}
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
            {%- if require_dependencies and node.unique_id not in model.depends_on.nodes -%}
                {%- do problems.append(node.name ~ ' (' ~ node.original_file_path ~ ') is not among the segments '
                    ~ model.name ~ ' depends on: run `make segments` (python -m warehouse.segments refresh)') -%}
            {%- endif -%}
            {%- do nodes.append(node) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set group_refreshes = {} -%}
    {%- for node in nodes -%}
        {%- set group = (node.config.meta or {}).get('segment', {}).get('campaign_group') -%}
        {%- do group_refreshes.setdefault(group, []).append(segment_refresh(node)) -%}
    {%- endfor -%}
    {%- for group, refreshes in group_refreshes.items() | sort -%}
        {%- if refreshes | unique | list | length > 1 -%}
            {%- do problems.append('campaign group ' ~ group ~ ' mixes triggered and daily segments: tag all of them `triggered` or none') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if problems -%}
        {{ exceptions.raise_compiler_error("Segment definitions are incomplete:\n- " ~ problems | join("\n- ")) }}
    {%- endif -%}
    {{ return(nodes) }}
{%- endmacro %}

{% macro sql_text(value) -%}
    '{{ (value | string).replace("'", "''") }}'
{%- endmacro %}

{#- `triggered` when the segment model is tagged so (also refreshed between daily runs), else `daily`. -#}
{% macro segment_refresh(node) -%}
    {{ return('triggered' if 'triggered' in node.tags else 'daily') }}
{%- endmacro %}
