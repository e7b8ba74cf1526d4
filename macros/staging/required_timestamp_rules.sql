{#- The rules a landed row's required timestamp can break, in order, as `when` branches of the case
    that names the row's first broken rule (docs/conventions.md, "Timestamps and dates in raw
    files"): missing (its cleaned text, <column>_text, is null), unparseable, or later than var
    plausible_future_days after the run. The base models of every source with such a column read it
    here, so the rule and its names (missing_<column>, unparseable_<column>,
    implausible_future_<column>) have one home. -#}
{% macro required_timestamp_rules(column) -%}
    when {{ column }}_text is null then 'missing_{{ column }}'
    when {{ column }} is null then 'unparseable_{{ column }}'
    when {{ column }} > {{ latest_plausible_time() }} then 'implausible_future_{{ column }}'
{%- endmacro %}

{#- A landed timestamp as a base model carries it: parsed (<column>) and as its cleaned text
    (<column>_text), the text the rules above test for "missing" and the detail below shows. -#}
{% macro timestamp_columns(column) -%}
    {{ parse_timestamp(column) }} as {{ column }},
        {{ clean_text(column) }} as {{ column }}_text
{%- endmacro %}

{#- The rejection_detail of the rules above, as `when` branches of a `case rejection_rule`: the
    timestamp's text as landed, when it was unparseable or implausibly in the future. -#}
{% macro required_timestamp_details(column) -%}
    when 'unparseable_{{ column }}' then {{ column }}_text
        when 'implausible_future_{{ column }}' then {{ column }}_text
{%- endmacro %}
